"""`/api/actors/Actor/...`: the customers a sales order points at.

A customer is an actor with roles. CreateActor carries typed fieldset updates: the person and
organization fieldsets are confirmed; the contact (e-mail, phone) and customer-identifier
fieldsets are our guesses, their names options. A person needs a name, an organization its
organizationName. The `User` role makes a login whose password is the e-mail (a trap the docs
warn about): it is recorded under `users` in the state, and it really can log in.
Duplicates are allowed, as in Sapera: a connector must search (GetActorsPage `searchPattern`)
before it creates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulators.sapera.context import Ctx, Route
from simulators.sapera.envelope import already_exists, not_exists, validation
from simulators.sapera.fields import Body
from simulators.sapera.paging import page

PERSON_FIELDSET = "ChangePersonFieldsetUpdate"
ORGANIZATION_FIELDSET = "ChangeOrganizationFieldsetUpdate"
PERSON_ROLES = ("CustomerPerson", "Person")
ORGANIZATION_ROLES = ("CustomerOrganization", "Organization")
ROLES = (*PERSON_ROLES, *ORGANIZATION_ROLES, "Customer", "User")
FIELDSETS = {
    PERSON_FIELDSET: ("firstName", "lastName"),
    ORGANIZATION_FIELDSET: (
        "organizationName",
        "organizationalIdentifier",
        "vatTaxRegistrationIdentifier",
    ),
    "contact": ("email", "phone"),
    "customerIdentifier": ("customerIdentifier",),
}
SEARCHED = ("displayName", "phone", "email", "customerIdentifier")
ENTRY = (
    "id",
    "displayName",
    "email",
    "phone",
    "customerIdentifier",
    "roleNames",
    "isOrganization",
    "organizationalIdentifier",
)


def get_page(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    pattern = (body.text("searchPattern", wrapped=True) or "").lower()
    role = (body.text("roleSystemName", wrapped=True) or "").lower()
    ids = body.array("actorIds", wrapped=True)
    rows = [
        actor
        for actor in ctx.store.actors.values()
        if (not pattern or any(pattern in (actor[f] or "").lower() for f in SEARCHED))
        and (not role or role in (r.lower() for r in actor["roleNames"]))
        and (not ids or actor["id"] in ids)
    ]
    return page(body, rows, entry)


def get(ctx: Ctx) -> dict[str, Any]:
    actor_id = ctx.body.integer("id", required=True)
    actor = ctx.store.actors.get(actor_id or 0)
    if actor is None:
        raise not_exists(f"Actor {actor_id} does not exist.")
    return entry(actor)


def create(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    command(body, "CreateActorCommand")
    roles = _roles(body)
    fields = _fieldsets(ctx, body)
    is_organization = ORGANIZATION_FIELDSET in fields["_sets"] or any(
        r in ORGANIZATION_ROLES for r in roles
    )
    if is_organization and any(r in PERSON_ROLES for r in roles):
        raise validation("An actor is either a person or an organization, not both.")
    if is_organization and not (fields.get("organizationName") or "").strip():
        raise validation(
            f"{ORGANIZATION_FIELDSET}.organizationName is required for an organization."
        )
    names = [fields.get("firstName"), fields.get("lastName")]
    if not is_organization and not any((n or "").strip() for n in names):
        raise validation(f"A person needs a name: {PERSON_FIELDSET}.firstName or lastName.")
    email = fields.get("email")
    if "User" in roles and not email:
        raise validation("The User role needs an e-mail (it becomes the login name).")
    if "User" in roles and ctx.store.user(email or "") is not None:
        raise already_exists(f"A user with the login name {email} already exists.")
    now = datetime.now(UTC).isoformat()
    actor: dict[str, Any] = {
        "id": ctx.store.new_id("actor"),
        "displayName": fields["organizationName"]
        if is_organization
        else " ".join(n.strip() for n in names if n and n.strip()),
        **{name: fields.get(name) for group in FIELDSETS.values() for name in group},
        "roleNames": roles,
        "isOrganization": is_organization,
        "createdAt": now,
        "modifiedAt": now,
    }
    ctx.store.actors[actor["id"]] = actor
    if "User" in roles:
        ctx.store.users.append(
            {
                "id": ctx.store.new_id("user"),
                "actorId": actor["id"],
                "userName": email,
                "password": email,
            }
        )
    return {"id": actor["id"]}


def entry(actor: dict[str, Any]) -> dict[str, Any]:
    return {name: actor[name] for name in ENTRY}


def command(body: Body, expected: str) -> None:
    """A command's root `modelType`, when sent, must name the command."""
    model_type = body.get("modelType")
    if model_type is not None and model_type != expected:
        raise validation(f"modelType must be {expected}, not {model_type}.")


def _roles(body: Body) -> list[str]:
    names = body.array("roleNames")
    if not names:
        raise validation("roleNames is required (roleIds are not supported here).")
    roles = []
    for name in names:
        role = next((r for r in ROLES if isinstance(name, str) and r.lower() == name.lower()), None)
        if role is None:
            raise validation(f"Unknown role '{name}'; known: {', '.join(ROLES)}.")
        roles.append(role)
    return list(dict.fromkeys(roles))


def _fieldsets(ctx: Ctx, body: Body) -> dict[str, Any]:
    """The fieldset values by name, and under `_sets` which fieldsets came."""
    names = {
        PERSON_FIELDSET: PERSON_FIELDSET,
        ORGANIZATION_FIELDSET: ORGANIZATION_FIELDSET,
        ctx.options.contact_fieldset: "contact",
        ctx.options.customer_identifier_fieldset: "customerIdentifier",
    }
    fields: dict[str, Any] = {"_sets": set()}
    for update in body.children("modelUpdates"):
        model_type = update.text("modelType", required=True)
        kind = names.get(model_type or "")
        if kind is None:
            raise validation(
                f"{update.where}modelType {model_type} is not an actor fieldset "
                f"update; use one of: {', '.join(names)}."
            )
        fields["_sets"].add(model_type)
        for name in FIELDSETS[kind]:
            fields[name] = update.text(name, wrapped=True)
    return fields


def routes() -> list[Route]:
    return [
        Route("api/actors/Actor/GetActorsPage", get_page, "PageResult<ActorInfo>"),
        Route("api/actors/Actor/GetActor", get, "Actor"),
        Route("api/actors/Actor/CreateActor", create, "CreateActorResult"),
    ]
