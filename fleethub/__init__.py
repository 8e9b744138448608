"""The composition root: the ``fleethub`` command and the embedded all-in-one system."""
