//! The AWS statuses fgdeploy reads, as enums: parsed once in the adapters, matched exhaustively
//! in the decisions. Every enum keeps what AWS sent but this build does not know as
//! `Unknown(text)` (AWS adds values: a newer lifecycle stage must be shown, not rejected).
//! They serialize as AWS's own strings, so the JSON contract is unchanged. They do not compare
//! with strings: code matches variants, so a misspelt status cannot compile.

macro_rules! aws_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this build does not know, as AWS sent it.
            Unknown(String),
        }

        impl $name {
            /// AWS's text as the enum: for the adapters (`src/aws/`, the simulator's
            /// constructors) only; everything else matches variants.
            pub(crate) fn from_aws(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Unknown(other.to_string()),
                }
            }
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Unknown(text) => text,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::Unknown(String::new())
            }
        }

        /// A string: what AWS sends, the values this build knows listed (a newer one is kept
        /// as sent, so the schema does not close the set).
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "examples": [$($text),+]
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// AWS's text (the simulator's saved state reads it back).
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::from_aws(&String::deserialize(d)?))
            }
        }
    };
}

aws_enum! {
    /// `deploymentConfiguration.strategy`: how ECS replaces a service's tasks. The deployspec's
    /// `deploy.blue_green.ecs_strategy` takes the three ECS-native ones.
    DeploymentStrategy { Rolling = "ROLLING", BlueGreen = "BLUE_GREEN", Linear = "LINEAR", Canary = "CANARY" }
}

impl DeploymentStrategy {
    /// One of ECS's blue/green strategies (not ROLLING, not a value this build does not know).
    pub(crate) fn is_native(&self) -> bool {
        matches!(self, Self::BlueGreen | Self::Linear | Self::Canary)
    }
}

// A deployspec's `ecs_strategy` reads any text (the macro's Deserialize): an unknown one is
// refused by the deployspec rules, with the fix.

aws_enum! {
    /// A CodeDeploy group's `deploymentReadyOption.actionOnTimeout`: whether a deployment waits in
    /// Ready for ContinueDeployment.
    ReadyAction { ContinueDeployment = "CONTINUE_DEPLOYMENT", StopDeployment = "STOP_DEPLOYMENT" }
}

aws_enum! {
    /// A service deployment's lifecycle hook `status` (DescribeServiceDeployments).
    HookStatus {
        AwaitingAction = "AWAITING_ACTION",
        InProgress = "IN_PROGRESS",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        TimedOut = "TIMED_OUT",
    }
}

aws_enum! {
    /// A CodeDeploy ECS target's task-set label (GetDeploymentTarget).
    TaskSetLabel { Blue = "Blue", Green = "Green" }
}

aws_enum! {
    /// A lifecycle hook's `targetType` (`deploymentConfiguration.lifecycleHooks[]`,
    /// `lifecycleHookDetails[]`).
    HookTargetType { AwsLambda = "AWS_LAMBDA", Pause = "PAUSE" }
}

aws_enum! {
    /// The answer to a PAUSE hook (ContinueServiceDeployment `action`), and a hook's
    /// `timeoutAction`.
    HookAction { Continue = "CONTINUE", Rollback = "ROLLBACK" }
}

aws_enum! {
    /// A load-balancer target's `state` (DescribeTargetHealth).
    TargetHealthState {
        Initial = "initial",
        Healthy = "healthy",
        Unhealthy = "unhealthy",
        UnhealthyDraining = "unhealthy.draining",
        Unused = "unused",
        Draining = "draining",
        Unavailable = "unavailable",
    }
}

aws_enum! {
    /// A CodeDeploy deployment group's `computePlatform`.
    ComputePlatform { Ecs = "ECS", Server = "Server", Lambda = "Lambda" }
}

aws_enum! {
    /// An ELBv2 listener's `protocol`.
    ListenerProtocol { Http = "HTTP", Https = "HTTPS", Tcp = "TCP", Tls = "TLS", Udp = "UDP", TcpUdp = "TCP_UDP", Geneve = "GENEVE" }
}

aws_enum! {
    /// A CodeDeploy deployment target's `status` (GetDeploymentTarget); AWS's own `Unknown` is
    /// `Unreported`.
    CdTargetStatus {
        Pending = "Pending",
        InProgress = "InProgress",
        Succeeded = "Succeeded",
        Failed = "Failed",
        Skipped = "Skipped",
        Ready = "Ready",
        Unreported = "Unknown",
    }
}

aws_enum! {
    /// A CodeDeploy lifecycle event's `status`; AWS's own `Unknown` is `Unreported`.
    CdEventStatus {
        Pending = "Pending",
        InProgress = "InProgress",
        Succeeded = "Succeeded",
        Failed = "Failed",
        Skipped = "Skipped",
        Unreported = "Unknown",
    }
}

aws_enum! {
    /// A CodeDeploy ECS deployment's lifecycle event (`lifecycleEventName`).
    CdLifecycleEvent {
        BeforeInstall = "BeforeInstall",
        Install = "Install",
        AfterInstall = "AfterInstall",
        AllowTestTraffic = "AllowTestTraffic",
        AfterAllowTestTraffic = "AfterAllowTestTraffic",
        BeforeAllowTraffic = "BeforeAllowTraffic",
        AllowTraffic = "AllowTraffic",
        AfterAllowTraffic = "AfterAllowTraffic",
    }
}

aws_enum! {
    /// A service's `status` (DescribeServices). `MISSING` is DescribeServices' failure reason
    /// for a service that does not exist, which fgdeploy shows as its status.
    ServiceStatus { Active = "ACTIVE", Draining = "DRAINING", Inactive = "INACTIVE", Missing = "MISSING" }
}

aws_enum! {
    /// `deployments[].status` of DescribeServices.
    DeploymentStatus { Primary = "PRIMARY", Active = "ACTIVE", Inactive = "INACTIVE" }
}

aws_enum! {
    /// `deployments[].rolloutState`.
    RolloutState { InProgress = "IN_PROGRESS", Completed = "COMPLETED", Failed = "FAILED" }
}

aws_enum! {
    /// A service deployment's `status` (DescribeServiceDeployments).
    SdStatus {
        Pending = "PENDING",
        InProgress = "IN_PROGRESS",
        StopRequested = "STOP_REQUESTED",
        RollbackRequested = "ROLLBACK_REQUESTED",
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        Successful = "SUCCESSFUL",
        Stopped = "STOPPED",
        RollbackSuccessful = "ROLLBACK_SUCCESSFUL",
        RollbackFailed = "ROLLBACK_FAILED",
    }
}

impl SdStatus {
    /// The service deployment will not change any more.
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self, SdStatus::Successful | SdStatus::Stopped | SdStatus::RollbackSuccessful | SdStatus::RollbackFailed)
    }
    /// A rollback was asked for, runs, or ended.
    pub(crate) fn is_rollback(&self) -> bool {
        matches!(self, SdStatus::RollbackRequested | SdStatus::RollbackInProgress | SdStatus::RollbackSuccessful | SdStatus::RollbackFailed)
    }
}

aws_enum! {
    /// A CloudWatch alarm's `StateValue` (DescribeAlarms).
    AlarmStateValue { Ok = "OK", Alarm = "ALARM", InsufficientData = "INSUFFICIENT_DATA" }
}

aws_enum! {
    /// A CodeDeploy deployment's `status` (GetDeployment).
    CdStatus {
        Created = "Created",
        Queued = "Queued",
        InProgress = "InProgress",
        Baking = "Baking",
        Ready = "Ready",
        Succeeded = "Succeeded",
        Failed = "Failed",
        Stopped = "Stopped",
    }
}

aws_enum! {
    /// A task's `lastStatus` / `desiredStatus`.
    TaskStatus {
        Provisioning = "PROVISIONING",
        Pending = "PENDING",
        Activating = "ACTIVATING",
        Running = "RUNNING",
        Deactivating = "DEACTIVATING",
        Stopping = "STOPPING",
        Deprovisioning = "DEPROVISIONING",
        Stopped = "STOPPED",
        Deleted = "DELETED",
    }
}

aws_enum! {
    /// A stopped task's `stopCode`.
    StopCode {
        TaskFailedToStart = "TaskFailedToStart",
        EssentialContainerExited = "EssentialContainerExited",
        UserInitiated = "UserInitiated",
        ServiceSchedulerInitiated = "ServiceSchedulerInitiated",
        SpotInterruption = "SpotInterruption",
        TerminationNotice = "TerminationNotice",
    }
}

aws_enum! {
    /// An ECS-native service deployment's `lifecycleStage`.
    LifecycleStage {
        ReconcileService = "RECONCILE_SERVICE",
        PreScaleUp = "PRE_SCALE_UP",
        ScaleUp = "SCALE_UP",
        PostScaleUp = "POST_SCALE_UP",
        TestTrafficShift = "TEST_TRAFFIC_SHIFT",
        PostTestTrafficShift = "POST_TEST_TRAFFIC_SHIFT",
        PreProductionTrafficShift = "PRE_PRODUCTION_TRAFFIC_SHIFT",
        ProductionTrafficShift = "PRODUCTION_TRAFFIC_SHIFT",
        PostProductionTrafficShift = "POST_PRODUCTION_TRAFFIC_SHIFT",
        BakeTime = "BAKE_TIME",
        CleanUp = "CLEAN_UP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_values_round_trip() {
        assert_eq!(SdStatus::from_aws("ROLLBACK_FAILED"), SdStatus::RollbackFailed);
        assert_eq!(SdStatus::from_aws("ROLLBACK_FAILED").as_str(), "ROLLBACK_FAILED");
        assert_eq!(LifecycleStage::from_aws("PRE_PRODUCTION_TRAFFIC_SHIFT"), LifecycleStage::PreProductionTrafficShift);
        let newer = LifecycleStage::from_aws("A_STAGE_NOT_YET_NAMED");
        assert_eq!(newer, LifecycleStage::Unknown("A_STAGE_NOT_YET_NAMED".into()));
        assert_eq!(newer.to_string(), "A_STAGE_NOT_YET_NAMED", "shown as AWS sent it");
        assert_eq!(serde_json::to_string(&CdStatus::Ready).expect("json"), "\"Ready\"");
        assert!(SdStatus::Successful.is_terminal() && !SdStatus::InProgress.is_terminal());
        assert_eq!(DeploymentStatus::from_aws("PRIMARY"), DeploymentStatus::Primary);
    }
}
