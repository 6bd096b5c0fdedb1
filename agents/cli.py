"""Operator commands for accounts, staff and tokens."""

from __future__ import annotations

import click

agents_cli = click.Group("agents", help="Manage agent accounts.")
staff_cli = click.Group("staff", help="Manage organisation staff.")
tokens_cli = click.Group("tokens", help="Manage personal access tokens.")
