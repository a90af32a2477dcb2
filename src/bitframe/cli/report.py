"""The ``bitframe report`` command: a site or programme report as HTML (and PDF).

``register(app)`` adds the command to the Typer app; the report modules are
imported inside the command so that ``bitframe --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bitframe.errors import BitframeError, Problem


def _report(source: Path, results: Path | None, out: Path, pdf: bool, force: bool, docx: Path | None = None,
            json_out: Path | None = None, csv_out: Path | None = None, registered: Path | None = None) -> str:
    """Do the work of ``bitframe report``; return the line to print. Raises BitframeError."""
    from bitframe.protocol.programme import is_programme_file

    if not source.exists():
        raise BitframeError(Problem("BF520", "protocol or programme file not found", file=str(source)))
    if out.suffix.lower() not in (".html", ".htm"):
        raise BitframeError(Problem("BF521", f"--out must name an .html file; got '{out}'",
                                    hint="e.g. --out report.html (with --pdf, report.pdf is written beside it)"))
    if docx is not None and docx.suffix.lower() != ".docx":
        raise BitframeError(Problem("BF524", f"--docx must name a .docx file; got '{docx}'",
                                    hint="e.g. --docx report.docx"))
    if json_out is not None and json_out.suffix.lower() != ".json":
        raise BitframeError(Problem("BF524", f"--json must name a .json file; got '{json_out}'",
                                    hint="e.g. --json programme-results.json"))
    if csv_out is not None and csv_out.suffix.lower() != ".csv":
        raise BitframeError(Problem("BF524", f"--csv must name a .csv file; got '{csv_out}'",
                                    hint="e.g. --csv programme-results.csv"))
    if is_programme_file(source):
        if docx is not None:
            raise BitframeError(Problem("BF524", "--docx writes a site report; a programme report is HTML (and PDF)",
                                        file=str(source), hint="run `bitframe report PROTOCOL --results ... --docx "
                                                               "FILE` for each site"))
        if results is not None:
            raise BitframeError(Problem(
                "BF522", "--results is for a single protocol; a programme file names each site's results",
                file=str(source), hint="add `results: path/to/results.json` under each site in the programme file"))
        from bitframe.report.programme import render_programme_report

        written = render_programme_report(source, out_html=out, pdf=pdf, force=force, json_out=json_out,
                                          csv_out=csv_out)
    else:
        if json_out is not None or csv_out is not None:
            raise BitframeError(Problem(
                "BF522", "--json and --csv write a programme synthesis; a site's numbers are in its results JSON",
                file=str(source), hint="pass a programme file, or use `bitframe analyse ... --json` for a site"))
        if results is None:
            raise BitframeError(Problem(
                "BF523", "a site report needs the analysis results: pass --results RESULTS.json", file=str(source),
                hint="write them with `bitframe analyse PROTOCOL --list LIST --outcomes OUTCOMES --json RESULTS.json`"))
        from bitframe.report.site import render_site_report

        if docx is not None:
            from bitframe.io import ensure_writable

            ensure_writable([docx], force=force)  # refuse before any output is written
        written = render_site_report(source, results, out_html=out, pdf=pdf, force=force, registered=registered)
        if docx is not None:
            from bitframe.io import sha256_file
            from bitframe.protocol import load_protocol
            from bitframe.report.render import load_results
            from bitframe.report.site import registration_for
            from bitframe.report.word import render_site_docx

            protocol = load_protocol(source)
            render_site_docx(protocol, load_results(results, trial_id=protocol.trial.id), docx,
                             protocol_sha256=sha256_file(source), force=force,
                             registration=registration_for(protocol, source, registered))
    for warning in written.warnings:
        typer.echo(f"warning: {warning}", err=True)
    parts = [str(written.html)] + ([str(written.pdf)] if written.pdf else []) + ([str(docx)] if docx else []) + \
        [str(p) for p in (json_out, csv_out) if p is not None]
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"wrote {listed} ({written.kind} report, {len(written.sections)} sections)"


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        source: Path = typer.Argument(..., metavar="PROTOCOL_OR_PROGRAMME",
                                      help="A trial protocol (with --results) or a programme file."),
        results: Path | None = typer.Option(None, "--results", "-r",
                                               help="The site's results JSON (from `bitframe analyse --json`)."),
        out: Path = typer.Option(..., "--out", "-o", help="The HTML report to write."),
        pdf: bool = typer.Option(False, "--pdf", help="Also print a PDF beside the HTML (needs Chromium)."),
        force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
        docx: Path | None = typer.Option(None, "--docx", help="Also write the site report as an editable Word "
                                                               "document (needs python-docx)."),
        json_out: Path | None = typer.Option(None, "--json", help="Programme only: write the synthesis at full "
                                             "precision as JSON (docs/programme-results.schema.json)."),
        csv_out: Path | None = typer.Option(None, "--csv", help="Programme only: write the synthesis at full "
                                            "precision as a tidy CSV."),
        registered: Path | None = typer.Option(
            None, "--registered", help="The registration pack to compare the protocol with (default: the "
                                       "protocol's governance.registered_pack, else the results' comparison)."),
    ) -> None:
        """Write the Behavioural Insight Framework report of a site, or of a programme with its synthesis."""
        typer.echo(_report(source, results, out, pdf, force, docx, json_out, csv_out, registered))
