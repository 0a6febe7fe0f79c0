"""Extension objects, created here and bound to the app in create_app()."""

from flask import Flask, current_app
from flask_babel import Babel
from flask_compress import Compress
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from crm.db import Base

db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
htmx = HTMX()
compress = Compress()


def real_app() -> Flask:
    """The application object behind ``current_app`` (to keep it beyond the request, or to pass it on)."""
    return current_app._get_current_object()  # type: ignore[attr-defined]  # a werkzeug LocalProxy
