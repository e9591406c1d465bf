"""Concrete backends for the ports: sandbox simulators of the outside systems we cannot reach
from here, recording what they did in the database so tests and people can check it."""
