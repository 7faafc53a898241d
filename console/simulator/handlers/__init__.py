"""Resource behaviour of the simulator: one module per family of resource types."""
