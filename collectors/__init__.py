"""Collectors: inputs that receive raw records (``collectors.inputs``), stream framing
(``collectors.framing``) and parsers that turn raw records into ECS events
(``collectors.parsers``)."""
