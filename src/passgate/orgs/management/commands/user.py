"""`passgate user add`: a back-office user with a role in an organisation. The password is asked
for (not echoed) or read from an environment variable, never from the command line."""

from __future__ import annotations

import getpass
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from passgate.orgs.services import set_membership

from ._operator import ROLE_HELP, operator, organisation


class Command(BaseCommand):
    help = "Add a back-office user to an organisation with a role (password prompted or from an env var)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{add}")
        add = sub.add_parser("add", help="Create the user if new, and give them a role in the organisation.")
        add.add_argument("username")
        add.add_argument("--org", required=True, help="Organisation code.")
        add.add_argument("--role", required=True, help=ROLE_HELP)
        add.add_argument("--email", default="")
        add.add_argument("--password-env", metavar="VAR",
                         help="Read the password from this environment variable instead of asking.")

    def handle(self, *args, action, username, org, role, email, password_env, **options):
        org = organisation(org)
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"--password-env: ${password_env} is empty or unset", returncode=2)
        elif user is None:
            password = getpass.getpass(f"Password for {username}: ")
            if password != getpass.getpass("Again: "):
                raise CommandError("the two passwords differ", returncode=2)
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("password: " + " ".join(exc.messages), returncode=2) from None
        with transaction.atomic():
            if user is None:
                user = User(username=username, email=email)
            user.is_staff = True
            if password is not None:
                user.set_password(password)
            user.save()
            set_membership(operator(org), user, role)
        self.stdout.write(f"user {username} is {role} of {org.code}")
