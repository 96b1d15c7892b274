//! Fargate task sizes (Linux): the valid cpu/memory combinations.

/// CPU units from "256", "1024", "0.25 vCPU", "1 vCPU".
pub(crate) fn parse_cpu(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("vCPU").or_else(|| s.strip_suffix("vcpu")) {
        let f: f64 = v.trim().parse().ok()?;
        return Some((f * 1024.0).round() as u32);
    }
    s.parse().ok()
}

/// MiB from "512", "2048", "2 GB", "0.5GB".
pub(crate) fn parse_memory(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("GB").or_else(|| s.strip_suffix("gb")) {
        let f: f64 = v.trim().parse().ok()?;
        return Some((f * 1024.0).round() as u32);
    }
    s.parse().ok()
}

/// (cpu units, allowed memory values in MiB)
fn table() -> Vec<(u32, Vec<u32>)> {
    let range = |lo: u32, hi: u32, step: u32| (lo..=hi).step_by(step as usize).collect::<Vec<_>>();
    vec![
        (256, vec![512, 1024, 2048]),
        (512, range(1024, 4096, 1024)),
        (1024, range(2048, 8192, 1024)),
        (2048, range(4096, 16384, 1024)),
        (4096, range(8192, 30720, 1024)),
        (8192, range(16384, 61440, 4096)),
        (16384, range(32768, 122880, 8192)),
    ]
}

/// Whether `cpu` is a Fargate task cpu size at all.
pub(crate) fn check_cpu(cpu: u32) -> bool {
    table().iter().any(|(c, _)| *c == cpu)
}

/// Ok, or Err with a fix text listing what is valid.
pub(crate) fn check(cpu: u32, memory: u32) -> Result<(), String> {
    let t = table();
    match t.iter().find(|(c, _)| *c == cpu) {
        None => Err(format!("Fargate cpu must be one of {}", t.iter().map(|(c, _)| c.to_string()).collect::<Vec<_>>().join(", "))),
        Some((_, mems)) if mems.contains(&memory) => Ok(()),
        Some((_, mems)) => Err(format!(
            "with cpu {cpu}, memory must be {} MiB ({}…{})",
            if mems.len() <= 4 { mems.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ") } else { "one of".to_string() },
            mems.first().copied().unwrap_or_default(),
            mems.last().copied().unwrap_or_default()
        )),
    }
}

/// The task definition is for Fargate (`requiresCompatibilities` names FARGATE).
pub(crate) fn is_fargate(td: &super::model::TaskDefinition) -> bool {
    td.requires_compatibilities.as_ref().is_some_and(|c| c.iter().any(|x| x == "FARGATE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert!(check(256, 512).is_ok());
        assert!(check(256, 4096).is_err());
        assert!(check(1024, 3072).is_ok());
        assert!(check(8192, 20480).is_ok());
        assert!(check(8192, 17408).is_err());
        assert!(check(300, 512).is_err());
        assert_eq!(parse_cpu("0.25 vCPU"), Some(256));
        assert_eq!(parse_memory("2 GB"), Some(2048));
        assert_eq!(parse_memory("lots"), None);
    }

    #[test]
    fn cpu_sizes_are_exactly_the_table() {
        for cpu in [256, 512, 1024, 2048, 4096, 8192, 16384] {
            assert!(check_cpu(cpu), "{cpu}");
        }
        for cpu in [0, 128, 300, 768, 3072, 32768] {
            assert!(!check_cpu(cpu), "{cpu}");
        }
    }
}
