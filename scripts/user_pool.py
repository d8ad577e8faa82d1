"""Seeding a user pool: the one pool definition, its users and their sign-in, for every local run.

The local stack (cognito-local), the tests' moto pool and the benches create their pool here, so the
custom attributes, groups and app client the mirror is exercised with are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# custom:tenant and custom:plan, as in the pool the project deploys.
POOL_SCHEMA = (
    {"Name": "tenant", "AttributeDataType": "String", "Mutable": True},
    {"Name": "plan", "AttributeDataType": "String", "Mutable": True},
)
ADMIN_GROUP = "admin"
# Members list their own tenant through GET /users (serverless.yml tenantAdminGroup).
TENANT_ADMIN_GROUP = "tenant-admin"
USER_PASSWORD_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")


def create_pool(
    cognito: Any,
    name: str = "mirror-local",
    *,
    client_name: str = "mirror-local-app",
    auth_flows: Sequence[str] = USER_PASSWORD_FLOWS,
) -> tuple[str, str]:
    """A user pool with custom:tenant and custom:plan, the `admin` and `tenant-admin` groups and an
    app client allowed `auth_flows`; returns (pool id, client id)."""
    pool_id = str(cognito.create_user_pool(PoolName=name, Schema=list(POOL_SCHEMA))["UserPool"]["Id"])
    for group in (ADMIN_GROUP, TENANT_ADMIN_GROUP):
        cognito.create_group(GroupName=group, UserPoolId=pool_id)
    client = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName=client_name, ExplicitAuthFlows=list(auth_flows)
    )["UserPoolClient"]
    return pool_id, str(client["ClientId"])


def cognito_names(**attributes: str) -> dict[str, str]:
    """`custom__tenant="acme"` -> `{"custom:tenant": "acme"}` (Python keywords to Cognito names)."""
    return {name.replace("__", ":"): value for name, value in attributes.items()}


def attribute_list(attributes: Mapping[str, str]) -> list[dict[str, str]]:
    """`{"custom:tenant": "acme"}` -> `[{"Name": "custom:tenant", "Value": "acme"}]`, Cognito's form."""
    return [{"Name": name, "Value": value} for name, value in attributes.items()]


def create_user(
    cognito: Any, pool_id: str, username: str, attributes: Mapping[str, str], password: str | None = None
) -> str:
    """AdminCreateUser (no message sent; with `password`, set permanent): no PostConfirmation fires.

    `attributes` by Cognito name (`custom:tenant`). Returns the new user's sub.
    """
    user = cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=attribute_list(attributes),
        MessageAction="SUPPRESS",
    )["User"]
    if password is not None:
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=password, Permanent=True
        )
    return next(str(item["Value"]) for item in user["Attributes"] if item["Name"] == "sub")


def sign_in(cognito: Any, client_id: str, username: str, password: str) -> str:
    """USER_PASSWORD_AUTH (a PostAuthentication trigger fires where the pool has one): the access token."""
    auth = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return str(auth["AuthenticationResult"]["AccessToken"])
