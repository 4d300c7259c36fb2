"""Pure core: stdlib and numpy only, no I/O, no clock reads."""
