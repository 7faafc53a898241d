"""PowerStore Console: a desktop admin console for Dell PowerStore arrays."""

__version__ = "0.1.0"
