"""Topics, ids, the event producer, consumers, replay and the Flink trending job."""
