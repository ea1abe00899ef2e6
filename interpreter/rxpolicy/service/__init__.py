"""The decision service and workbench."""
from rxpolicy.service.app import ServiceConfig, create_app
__all__ = ["ServiceConfig", "create_app"]
