"""Partner sandboxes: local stand-ins speaking the partners' contracts
(docs/sandboxes.md). Run one with `passgate sandbox NAME --port N`."""
