"""Container engines gitberth can drive; each implements :class:`~gitberth.runtime.base.Runtime`."""
