"""The insured location (参保地): a provincial platform's insured face, one module per family of its
handlers (:mod:`.node` lists them) over what they share (:mod:`.records`)."""
