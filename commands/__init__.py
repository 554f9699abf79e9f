"""Commands: what a user asks Chirp to do, the rules that decide it, and the write model.

- `model`: the commands, the state a decision reads, and the decision itself (plain data);
- `rules`: pure functions, (state, command) -> the events and write-model changes that result,
  or a domain error (`errors`); no server is needed to test them;
- `write_model` / `postgres_write_model`: the few facts checked strongly before a command is
  accepted (accounts, tweets' authors, idempotency keys, the outbox);
- `runner`: runs a command: loads its state, decides, records the changes and the event in
  one transaction, produces the event and answers once the broker acknowledged it.

The API turns requests into commands and domain errors into problem details; it holds no
rule of its own.
"""
