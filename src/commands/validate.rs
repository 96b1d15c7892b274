//! `validate`: the deployspec and its template, offline.

use super::common::*;

pub(crate) async fn cmd_validate(cli: &Cli, args: &SpecArgs) -> Result<i32, Error> {
    let spec = load(args, &TargetArgs { sandbox: false, scenario: Default::default(), sandbox_state: None, sandbox_pace: 0 }).await?;
    let td = spec.render_task_definition("validate.invalid/image:tag")?;
    if cli.output == Output::Json {
        crate::render::outln!(
            "{}",
            Document::Valid {
                deployspec: &spec.path,
                template: &spec.template_path,
                family: &td.family,
                containers: td.container_definitions.len()
            }
            .line()
        );
    } else if !cli.quiet {
        crate::render::outln!(
            "ok: {} and {} are valid (family {}, {} container(s))",
            spec.path.display(),
            spec.template_path.display(),
            td.family,
            td.container_definitions.len()
        );
    }
    Ok(exit::OK)
}
