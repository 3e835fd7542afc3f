//! How many times each guessable or costly action may be tried, per address and per account
//! or DNI: the `[limits]` table of `aula.toml`, each key also an `AULA_LIMIT_<KEY>` variable
//! (`login_per_account` → `AULA_LIMIT_LOGIN_PER_ACCOUNT`).
//!
//! The defaults leave room for a cybercafé, a school lab or an employment office where dozens
//! of people share one public address, while keeping guessing useless: a claim code has 10^12
//! values and a password 5 tries per 15 minutes.

use serde::{Deserialize, Serialize};

macro_rules! limits {
    ($($(#[doc = $doc:literal])* $name:ident = $default:expr;)*) => {
        /// The `[limits]` table (every key optional).
        #[derive(Clone, Debug, Deserialize, Serialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Limits {
            $($(#[doc = $doc])* pub $name: i64,)*
        }

        impl Default for Limits {
            fn default() -> Self {
                Limits { $($name: $default,)* }
            }
        }

        impl Limits {
            /// Every key with its value, for validation and the environment.
            fn each_mut(&mut self) -> Vec<(&'static str, &mut i64)> {
                vec![$((stringify!($name), &mut self.$name),)*]
            }
        }
    };
}

limits! {
    /// Login attempts per account (and wrong current passwords at «Cambiar la contraseña»)
    /// per `login_window_minutes`.
    login_per_account = 5;
    /// Login attempts per client address per `login_window_minutes`.
    login_per_address = 30;
    /// The login window, in minutes.
    login_window_minutes = 15;
    /// Registrations (forms that pass validation) per client address per hour.
    register_per_address = 40;
    /// Claims of a person registered by an office (registrations of an existing DNI with a
    /// code) per DNI per hour.
    claim_per_dni = 10;
    /// Claims per client address per hour.
    claim_per_address = 30;
    /// Claim-code requests («Pedí tu código») per DNI per hour.
    code_request_per_dni = 3;
    /// Claim-code requests per client address per hour.
    code_request_per_address = 20;
    /// Password-reset requests per client address per hour.
    reset_per_address = 10;
    /// Password-reset emails per account per hour (beyond it, no email; the page is the same).
    reset_per_account = 3;
    /// Days a claim code stays valid.
    claim_code_days = 30;
    /// Requests per SIPE API token per minute (`/api/v1`).
    api_per_token_minute = 600;
    /// Certificate verifications (`/verificar`: codes and credential files) per client
    /// address per hour.
    verify_per_address = 300;
}

impl Limits {
    /// Every limit must be 1 or more.
    pub fn validate(&mut self) -> anyhow::Result<()> {
        for (name, value) in self.each_mut() {
            if *value < 1 {
                anyhow::bail!("el límite {name} tiene que ser 1 o más (es {value})");
            }
        }
        Ok(())
    }

    /// The login window as a duration.
    pub fn login_window(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.login_window_minutes)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_table_of_the_config_file_parses_and_refuses_zero() {
        let file: crate::app::config::RawConfig = toml::from_str(
            r#"
            [limits]
            register_per_address = 100
            claim_code_days = 7
            "#,
        )
        .unwrap();
        let mut limits = file.limits.unwrap();
        assert_eq!(limits.register_per_address, 100);
        assert_eq!(limits.claim_code_days, 7);
        assert_eq!(limits.login_per_account, 5, "the rest keep their defaults");
        assert!(limits.validate().is_ok());
        limits.claim_per_dni = 0;
        assert!(limits.validate().is_err());
        assert!(
            toml::from_str::<crate::app::config::RawConfig>("[limits]\nlogin = 3").is_err(),
            "unknown keys are refused"
        );
    }
}
