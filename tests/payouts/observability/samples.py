"""Reading the metrics as `/metrics` would: every process's samples, summed."""

from payouts.observability.snapshots import collected


def value(name: str, **labels: str) -> float:
    """The sum of NAME's samples whose labels include LABELS (0 when there is none)."""
    return sum(
        sample.value
        for family in collected()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
