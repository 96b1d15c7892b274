//! `plan`: the plan, human or one JSON document.

use super::common::*;
use super::fleet::{FleetRun, run_fleet};
use super::release::release_one;

pub(crate) async fn cmd_plan(cli: &Cli, a: &PlanArgs) -> Result<i32, Error> {
    let paths = expand_files(&a.files)?;
    let opts = ReleaseOptions { plan: a.flags.options(), dry_run: true, ..Default::default() };
    if paths.len() > 1 {
        let how = FleetRun {
            image_tag: a.image_tag.as_deref(),
            target: &a.target,
            opts,
            parallel: 1,
            policy: Default::default(),
            summary_file: None,
        };
        return run_fleet(cli, &how, &paths).await;
    }
    let spec = load(&SpecArgs { file: Some(paths[0].clone()), image_tag: a.image_tag.clone() }, &a.target).await?;
    release_one(cli, &spec, &a.flags, &a.target, opts, (None, None)).await
}
