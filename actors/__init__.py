"""The clients that talk to the platforms over HTTP: a hospital's HIS and the provinces' clearing desks.
The suites, the load users and ``yidi his`` drive them; the simulators never serve through them."""
