//! The service definition's comparison: what counts as a change and what ECS's defaults hide.

use super::*;
use crate::ports::ServiceState;

/// A live service using every managed field.
fn live() -> ServiceState {
    ServiceState {
        network: Some(Network {
            subnets: vec!["subnet-0aaaaaaaaaaaaaaa1".into(), "subnet-0bbbbbbbbbbbbbbb2".into()],
            security_groups: vec!["sg-0ccccccccccccccc3".into()],
            assign_public_ip: false,
        }),
        capacity_provider_strategy: vec![
            CapacityProviderItem { capacity_provider: "FARGATE".into(), base: 1, weight: 1 },
            CapacityProviderItem { capacity_provider: "FARGATE_SPOT".into(), base: 0, weight: 3 },
        ],
        platform_version: Some("1.4.0".into()),
        load_balancers: vec![LoadBalancer {
            target_group_arn: Some("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1".into()),
            container_name: Some("web".into()),
            container_port: Some(8080),
            advanced: None,
        }],
        health_check_grace_period_seconds: Some(30),
        service_registries: vec![ServiceRegistry {
            registry_arn: "arn:aws:servicediscovery:us-east-1:1:service/srv-1".into(),
            ..Default::default()
        }],
        service_connect: Some(ServiceConnect {
            enabled: true,
            namespace: Some("arn:aws:servicediscovery:us-east-1:1:namespace/ns-1".into()),
            services: vec![ServiceConnectService {
                port_name: "http".into(),
                discovery_name: Some("web".into()),
                client_aliases: vec![
                    ClientAlias { port: 80, dns_name: Some("web.internal".into()), test_traffic_header: None },
                    ClientAlias { port: 81, dns_name: None, test_traffic_header: None },
                ],
                ingress_port_override: None,
                timeout: Some(ConnectTimeout { idle_timeout_seconds: Some(3600), per_request_timeout_seconds: Some(15) }),
                tls: Some(ConnectTls {
                    aws_pca_authority_arn: Some("arn:aws:acm-pca:us-east-1:1:certificate-authority/ca-1".into()),
                    kms_key: None,
                    role_arn: Some("arn:aws:iam::1:role/sc-tls".into()),
                }),
            }],
            log_configuration: Some(ConnectLog {
                log_driver: "awslogs".into(),
                options: [("awslogs-group".to_string(), "/ecs/sc".to_string())].into(),
                secret_options: vec![],
            }),
            access_log: Some(ConnectAccessLog { format: "JSON".into(), include_query_parameters: Some("ENABLED".into()) }),
        }),
        enable_execute_command: true,
        propagate_tags: Some(PropagateTags::Service),
        availability_zone_rebalancing: Some(AzRebalancing::Enabled),
        deployment_controller: Controller::Ecs,
        tags: [("team".to_string(), "payments".to_string()), ("aws:cloudformation:stack-name".to_string(), "x".to_string())].into(),
        ..Default::default()
    }
}

#[test]
fn the_live_definition_compares_equal_to_itself() {
    let svc = live();
    let def = ServiceDefinition::from_live(&svc.settings());
    assert_eq!(def.fields().len(), 13, "every managed field is written: {:?}", def.fields());
    let c = compare(&def, &svc.settings());
    assert!(c.changes.is_empty() && c.update.is_empty() && c.tags.is_empty(), "{c:?}");
    assert!(!def.tags.as_ref().is_some_and(|t| t.keys().any(|k| k.starts_with("aws:"))), "aws: tags are AWS's, never written");
}

#[test]
fn ecs_defaults_and_order_are_not_changes() {
    let mut svc = ServiceState { deployment_controller: Controller::Ecs, ..Default::default() };
    svc.network = Some(Network { subnets: vec!["subnet-b".into(), "subnet-a".into()], security_groups: vec![], assign_public_ip: false });
    let want = ServiceDefinition {
        network: Some(NetworkDef {
            subnets: Some(vec!["subnet-a".into(), "subnet-b".into()]),
            security_groups: None,
            assign_public_ip: Some(false),
        }),
        capacity_provider_strategy: Some(vec![]),
        platform_version: Some("LATEST".into()),
        load_balancers: Some(vec![]),
        health_check_grace_period_seconds: Some(0),
        service_registries: Some(vec![]),
        service_connect: Some(ServiceConnect { enabled: false, ..Default::default() }),
        enable_execute_command: Some(false),
        enable_ecs_managed_tags: Some(false),
        propagate_tags: Some(PropagateTags::None),
        availability_zone_rebalancing: Some(AzRebalancing::Disabled),
        deployment_controller: Some(Controller::Ecs),
        volume_configurations: Some(vec![]),
        vpc_lattice: Some(vec![]),
        tags: Some(Default::default()),
    };
    let c = compare(&want, &svc.settings());
    assert!(c.changes.is_empty(), "{:?}", c.changes);
    // Service Connect listed in another order is the same configuration.
    let mut svc = live();
    let mut want = ServiceDefinition::from_live(&svc.settings());
    want.service_connect.as_mut().expect("sc").services[0].client_aliases.reverse();
    svc.capacity_provider_strategy.reverse();
    assert!(compare(&want, &svc.settings()).changes.is_empty());
}

#[test]
fn a_network_change_sends_the_whole_network_merged_with_the_live_one() {
    let svc = live();
    let want = ServiceDefinition {
        network: Some(NetworkDef { subnets: Some(vec!["subnet-0ddddddddddddddd4".into()]), security_groups: None, assign_public_ip: None }),
        ..Default::default()
    };
    let c = compare(&want, &svc.settings());
    let sent = c.update.network.clone().expect("the network is sent");
    assert_eq!(sent.subnets, Some(vec!["subnet-0ddddddddddddddd4".to_string()]));
    assert_eq!(sent.security_groups, Some(vec!["sg-0ccccccccccccccc3".to_string()]), "the live security groups are kept");
    assert_eq!(sent.assign_public_ip, Some(false));
    assert_eq!(c.update.fields(), vec!["network"], "nothing else is sent");
    assert!(c.changes.iter().all(|ch| ch.path().starts_with("service.definition.network")), "{:?}", c.changes);
    assert!(!c.changes.is_empty());
}

#[test]
fn each_field_that_differs_is_a_change_and_is_sent() {
    let svc = live();
    let mut want = ServiceDefinition::from_live(&svc.settings());
    want.capacity_provider_strategy = Some(vec![CapacityProviderItem { capacity_provider: "FARGATE_SPOT".into(), base: 0, weight: 1 }]);
    want.platform_version = Some("1.3.0".into());
    want.load_balancers = Some(vec![]);
    want.health_check_grace_period_seconds = Some(60);
    want.service_registries = Some(vec![]);
    want.service_connect = Some(ServiceConnect::default());
    want.enable_execute_command = Some(false);
    want.propagate_tags = Some(PropagateTags::TaskDefinition);
    want.availability_zone_rebalancing = Some(AzRebalancing::Disabled);
    want.deployment_controller = Some(Controller::CodeDeploy);
    let c = compare(&want, &svc.settings());
    assert_eq!(
        c.update.fields(),
        vec![
            "capacity_provider_strategy",
            "platform_version",
            "load_balancers",
            "health_check_grace_period_seconds",
            "service_registries",
            "service_connect",
            "enable_execute_command",
            "propagate_tags",
            "availability_zone_rebalancing",
            "deployment_controller"
        ]
    );
    assert!(c.changes.contains(&Change::Change {
        path: "service.definition.health_check_grace_period_seconds".into(),
        from: 30.into(),
        to: 60.into()
    }));
    assert!(c.changes.contains(&Change::Change {
        path: "service.definition.platform_version".into(),
        from: "1.4.0".into(),
        to: "1.3.0".into()
    }));
}

#[test]
fn tags_are_set_not_replaced() {
    let svc = live();
    let want = ServiceDefinition {
        tags: Some([("team".to_string(), "checkout".to_string()), ("tier".to_string(), "web".to_string())].into()),
        ..Default::default()
    };
    let c = compare(&want, &svc.settings());
    assert_eq!(c.tags, [("team".to_string(), "checkout".to_string()), ("tier".to_string(), "web".to_string())].into());
    assert!(c.update.tags.is_none(), "tags never ride on UpdateService");
    assert!(c.changes.contains(&Change::Add { path: "service.definition.tags.tier".into(), value: "web".into() }));
    assert!(c.changes.contains(&Change::Change {
        path: "service.definition.tags.team".into(),
        from: "payments".into(),
        to: "checkout".into()
    }));
    assert_eq!(c.changes.len(), 2, "a live tag the spec does not name is left alone: {:?}", c.changes);
    let same = ServiceDefinition { tags: Some([("team".to_string(), "payments".to_string())].into()), ..Default::default() };
    assert!(compare(&same, &svc.settings()).tags.is_empty());
}

#[test]
fn enums_read_and_write_the_aws_spelling() {
    for p in [PropagateTags::None, PropagateTags::Service, PropagateTags::TaskDefinition] {
        assert_eq!(PropagateTags::parse(p.as_str()), Some(p));
        assert_eq!(serde_json::to_value(p).expect("json"), serde_json::Value::from(p.as_str()));
    }
    for a in [AzRebalancing::Enabled, AzRebalancing::Disabled] {
        assert_eq!(AzRebalancing::parse(a.as_str()), Some(a));
        assert_eq!(serde_json::to_value(a).expect("json"), serde_json::Value::from(a.as_str()));
    }
    for c in [Controller::Ecs, Controller::CodeDeploy, Controller::External] {
        assert_eq!(Controller::parse(c.as_str()), Some(c));
        assert_eq!(c.to_string(), c.as_str());
        assert_eq!(serde_json::to_value(c).expect("json"), serde_json::Value::from(c.as_str()));
    }
    assert_eq!(Controller::parse("BLUE"), None);
}
