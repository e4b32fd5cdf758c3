"""Locust's entry point for ``yidi load``. ``locust -f`` loads this file by its path, outside the package,
so it names the package rather than importing relatively; the users and the shape are in ``users``."""

from yidi.load.users import HisUser, RateShape

__all__ = ["HisUser", "RateShape"]
