"""Resource behaviour of the simulator: one module per family of resource types.

Importing the package registers every handler module's operations and relations.
"""

from console.simulator.handlers import (
    files,
    hosts,
    metro,
    nas_files,
    policies,
    protection_rules,
    system,
    users,
    volume_groups,
    volumes,
)

__all__ = [
    "files",
    "hosts",
    "metro",
    "nas_files",
    "policies",
    "protection_rules",
    "system",
    "users",
    "volume_groups",
    "volumes",
]
