"""What clients are told: events written with the changes they describe (`events`), and their
delivery to the organisations' webhook endpoints (`endpoints`, `delivery`)."""
