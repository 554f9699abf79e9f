"""Read models (pure projectors, store ports and adapters) and the API's write model."""
