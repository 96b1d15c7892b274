//! Where each service answers: `AWS_ENDPOINT_URL*` (how the tests reach moto), else the region's
//! partition.

/// The region the clients talk to, for messages that name an endpoint.
pub(super) static REGION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// The endpoint a service's calls go to: the `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL`
/// override, else the regional AWS endpoint.
pub(crate) fn endpoint_of(service: &str) -> String {
    let env_name = match service {
        "elasticloadbalancing" => "ELASTIC_LOAD_BALANCING_V2".to_string(),
        "logs" => "CLOUDWATCH_LOGS".to_string(),
        s => s.to_ascii_uppercase(),
    };
    std::env::var(format!("AWS_ENDPOINT_URL_{env_name}")).or_else(|_| std::env::var("AWS_ENDPOINT_URL")).unwrap_or_else(|_| {
        let region = REGION.get().map_or("<region>", String::as_str);
        format!("https://{service}.{region}.{}", dns_suffix(region))
    })
}

/// The DNS suffix of a region's partition (aws, aws-cn, aws-us-gov, the ISO partitions), as
/// the SDK's partition table has it: `ssm.cn-north-1.amazonaws.com.cn`, not `.amazonaws.com`.
pub(crate) fn dns_suffix(region: &str) -> &'static str {
    match region {
        r if r.starts_with("cn-") => "amazonaws.com.cn",
        r if r.starts_with("us-isob-") => "sc2s.sgov.gov",
        r if r.starts_with("us-isof-") => "csp.hci.ic.gov",
        r if r.starts_with("us-iso-") => "c2s.ic.gov",
        r if r.starts_with("eu-isoe-") => "cloud.adc-e.uk",
        _ => "amazonaws.com",
    }
}
