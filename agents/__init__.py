"""Faust agents, one module per read model: decode an event, project it, write through a store."""
