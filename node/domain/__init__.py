"""Pure domain core: no Flask, no database session, no clock reads."""
