//! The broker's request errors and the one place they become wire answers (code + remark).

use remoting::error::HeaderError;
use remoting::{response_code, RemotingCommand};

pub const FAQ_SUFFIX: &str =
    "\nSee https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details.";

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A header field is missing or malformed (Java: RemotingCommandException -> SYSTEM_ERROR).
    #[error("org.apache.rocketmq.remoting.exception.RemotingCommandException: {0}")]
    Header(#[from] HeaderError),
    /// A request body could not be decoded.
    #[error("decode request body failed: {0}")]
    Body(String),
    /// A refusal with Java's response code and remark.
    #[error("{remark}")]
    Refused { code: i32, remark: String },
    /// A filter expression that does not compile (CHECK_CLIENT_CONFIG) -> SUBSCRIPTION_PARSE_FAILED.
    #[error("Invalid MessageSelector. {0}")]
    FilterInvalid(crate::filter::FilterError),
    /// A pull's own filter expression does not compile -> SUBSCRIPTION_PARSE_FAILED.
    #[error("parse the consumer's subscription failed")]
    SubscriptionParseFailed,
    /// The group's registered filter expression does not compile -> FILTER_DATA_NOT_EXIST.
    #[error("The broker's consumer filter data is not exist!Your expression may be wrong!")]
    FilterDataNotExist,
    /// A non-tag subscription with `enablePropertyFilter=false` -> SYSTEM_ERROR.
    #[error("The broker does not support consumer to filter message by {0}")]
    PropertyFilterDisabled(String),
    /// Refused by ACL 1.0 -> SYSTEM_ERROR with the exception's text, as every Java broker that
    /// serves `aclEnable` (4.x, 5.0-5.3.2) answers (see `crate::acl`).
    #[error("org.apache.rocketmq.acl.common.AclException: {0}")]
    Acl(#[from] crate::acl::AclError),
}

impl BrokerError {
    pub fn refused(code: i32, remark: impl Into<String>) -> Self {
        BrokerError::Refused {
            code,
            remark: remark.into(),
        }
    }

    /// A timer message refused on the send path (Java `WHEEL_TIMER_MSG_ILLEGAL` ->
    /// MESSAGE_ILLEGAL, `WHEEL_TIMER_NOT_ENABLE` -> SYSTEM_ERROR), with Java's remarks.
    pub fn timer(
        refusal: crate::timer::TimerRefusal,
        settings: &crate::timer::TimerSettings,
    ) -> Self {
        match refusal {
            crate::timer::TimerRefusal::Illegal => BrokerError::refused(
                response_code::MESSAGE_ILLEGAL,
                format!(
                    "timer message illegal, the delay time should not be bigger than the max delay {}ms; or if set del msg, the delay time should be bigger than the current time",
                    settings.max_delay_sec.wrapping_mul(1000)
                ),
            ),
            crate::timer::TimerRefusal::NotEnabled => BrokerError::refused(
                response_code::SYSTEM_ERROR,
                format!(
                    "accurate timer message is not enabled, timerWheelEnable is {}",
                    settings.enable
                ),
            ),
        }
    }

    pub fn code(&self) -> i32 {
        match self {
            BrokerError::Header(_) | BrokerError::Body(_) => response_code::SYSTEM_ERROR,
            BrokerError::Refused { code, .. } => *code,
            BrokerError::FilterInvalid(_) | BrokerError::SubscriptionParseFailed => {
                response_code::SUBSCRIPTION_PARSE_FAILED
            }
            BrokerError::FilterDataNotExist => response_code::FILTER_DATA_NOT_EXIST,
            BrokerError::PropertyFilterDisabled(_) => response_code::SYSTEM_ERROR,
            BrokerError::Acl(_) => response_code::SYSTEM_ERROR,
        }
    }

    /// The answer to `req` for this error.
    pub fn into_response(self, req: &RemotingCommand) -> RemotingCommand {
        let code = self.code();
        RemotingCommand::response_to(req, code, Some(self.to_string()))
    }
}

pub type BrokerResult<T> = Result<T, BrokerError>;
