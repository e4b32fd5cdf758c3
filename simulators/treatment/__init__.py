"""The treatment location (就医地): a provincial platform's hospital face, one module per family of its
handlers (:mod:`.node` lists them) over what they share (:mod:`.visits`)."""
