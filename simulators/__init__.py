"""Reference simulators of every role: national hub, provincial platforms (insured and treatment),
hospital HIS clients and cards (issue 3). Driven by :mod:`yidi.specs`."""
