"""``gar-testbed resource``: a resource's ``affichable`` / ``diffusable`` flags and its family.

``set`` changes what it is given and prints the resource's resulting state; a refused change
(unknown resource, a family of more than one level) writes nothing. The shared helpers of
:mod:`services.cli` are imported inside the command, so the two modules import in any order.
"""

from __future__ import annotations

from typing import Annotated

import typer

resource_app = typer.Typer(
    help="Ressources du catalogue : affichable, diffusable, famille (mère et membres).",
    no_args_is_help=True,
)


@resource_app.command("set")
def set_(
    ctx: typer.Context,
    resource_id: Annotated[str, typer.Argument(help="Identifiant ARK de la ressource.")],
    displayable: Annotated[
        bool | None,
        typer.Option("--affichable/--non-affichable",
                     help="Listée (ou non) dans le médiacentre."),
    ] = None,
    distributable: Annotated[
        bool | None,
        typer.Option("--diffusable/--non-diffusable",
                     help="Peut (ou non) faire l'objet d'un abonnement."),
    ] = None,
    mother: Annotated[
        str | None,
        typer.Option("--mere", help="Rend la ressource membre de la famille de cette mère."),
    ] = None,
    no_family: Annotated[
        bool, typer.Option("--sans-famille", help="Retire la ressource de sa famille.")
    ] = False,
) -> None:
    """Change les indicateurs ou la famille d'une ressource, puis affiche son état."""
    from services.cli import _expected_errors, _fail, _settings
    from services.cli_db import migrated_session

    if mother is not None and no_family:
        _fail("Donnez --mere ou --sans-famille, pas les deux.")
    with _expected_errors():
        settings = _settings(ctx)
        from broker import resource_families as families

        try:
            with migrated_session(settings) as session:
                resource = families.set_flags(session, resource_id, displayable=displayable,
                                              distributable=distributable)
                if mother is not None or no_family:
                    resource = families.set_family(session, resource_id, mother)
                line = (f"{resource.id} : affichable={'oui' if resource.displayable else 'non'}, "
                        f"diffusable={'oui' if resource.distributable else 'non'}, "
                        f"famille={resource.family_id or 'aucune'}")
        except families.FamilyError as error:
            _fail(error.detail)
        typer.echo(line)
