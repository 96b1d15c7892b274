//! How ECS rounds a rolling deployment's bounds: the floor of running tasks rounds up, the
//! ceiling rounds down (shared by the plan, the deployspec's checks and the simulator).

/// min rounds up, max rounds down (ECS).
pub(crate) fn floor_ceiling(desired: i32, min_pct: i32, max_pct: i32) -> (i32, i32) {
    let d = desired as i64;
    let floor = (d * min_pct as i64 + 99) / 100;
    let ceiling = d * max_pct as i64 / 100;
    (floor as i32, ceiling as i32)
}
