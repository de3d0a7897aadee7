"""Domain code shared by Driftline's Lambda handlers (shipped as one Lambda layer)."""
