"""Settings of the sample project; dbmigrate replaces DATABASES["default"] with the database it was given."""

SECRET_KEY = "sample-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "inventory"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "sample.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
