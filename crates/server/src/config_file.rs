//! `--config-file`: etcd's YAML configuration file (the keys of etcd's `embed.Config`).
//!
//! The file is mapped onto the same flag table as the command line, so a key means what its
//! flag means and is honoured, refused or ignored by the same rule. Top-level keys are flag
//! names; the two TLS sections map onto the TLS flags (`client-transport-security.cert-file`
//! is `--cert-file`, `peer-transport-security.cert-file` is `--peer-cert-file`, ...).
//! Scalars become the flag's text, a list becomes a comma-separated value (as etcd's
//! `log-outputs` and `cipher-suites`), `null` is as if the key were absent. Keys etcd's
//! decoder would skip (unknown names) are skipped, as etcd does.
//!
//! As in etcd, a configuration file REPLACES the command line and the `ETCD_*` variables:
//! they are ignored when a file is given.

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

use crate::config::ConfigError;

/// `client-transport-security` keys and the flags they stand for.
const CLIENT_TLS: &[(&str, &str)] = &[
    ("cert-file", "cert-file"),
    ("key-file", "key-file"),
    ("client-cert-auth", "client-cert-auth"),
    ("trusted-ca-file", "trusted-ca-file"),
    ("auto-tls", "auto-tls"),
    ("crl-file", "client-crl-file"),
    ("allowed-hostname", "client-cert-allowed-hostname"),
    ("client-cert-file", "client-cert-file"),
    ("client-key-file", "client-key-file"),
];

/// `peer-transport-security` keys and the flags they stand for.
const PEER_TLS: &[(&str, &str)] = &[
    ("cert-file", "peer-cert-file"),
    ("key-file", "peer-key-file"),
    ("client-cert-auth", "peer-client-cert-auth"),
    ("trusted-ca-file", "peer-trusted-ca-file"),
    ("auto-tls", "peer-auto-tls"),
    ("crl-file", "peer-crl-file"),
    ("allowed-cn", "peer-cert-allowed-cn"),
    ("allowed-hostname", "peer-cert-allowed-hostname"),
    ("client-cert-file", "peer-client-cert-file"),
    ("client-key-file", "peer-client-key-file"),
];

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        flag: "config-file".into(),
        value: key.to_string(),
        reason: reason.into(),
    }
}

/// A YAML value as a flag's text; `None` for `null`.
fn text(key: &str, v: &Yaml) -> Result<Option<String>, ConfigError> {
    Ok(Some(match v {
        Yaml::Null => return Ok(None),
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match text(key, item)? {
                    Some(t) if !matches!(item, Yaml::Array(_) | Yaml::Hash(_)) => parts.push(t),
                    Some(_) => return Err(invalid(key, "a list of lists or maps")),
                    None => {}
                }
            }
            parts.join(",")
        }
        Yaml::Hash(_) => return Err(invalid(key, "a map where a value is expected")),
        Yaml::Alias(_) | Yaml::BadValue => return Err(invalid(key, "not a value")),
    }))
}

/// Reads the flag values the YAML document `doc` sets. `flag` maps a key to the table's
/// name of that flag (`None`: not a flag, skipped).
pub fn values_from_yaml(
    doc: &str,
    flag: impl Fn(&str) -> Option<&'static str>,
) -> Result<BTreeMap<&'static str, String>, ConfigError> {
    let docs = YamlLoader::load_from_str(doc).map_err(|e| invalid("", e.to_string()))?;
    let mut out = BTreeMap::new();
    let root = match docs.into_iter().next() {
        None | Some(Yaml::Null) => return Ok(out),
        Some(Yaml::Hash(h)) => h,
        Some(_) => return Err(invalid("", "the document is not a map of settings")),
    };
    let set = |key: &str, v: &Yaml, out: &mut BTreeMap<&'static str, String>| {
        if let (Some(name), Some(t)) = (flag(key), text(key, v)?) {
            out.insert(name, t);
        }
        Ok::<(), ConfigError>(())
    };
    for (k, v) in &root {
        let Yaml::String(key) = k else {
            return Err(invalid(&format!("{k:?}"), "a key that is not a string"));
        };
        let section = match key.as_str() {
            "client-transport-security" => Some(CLIENT_TLS),
            "peer-transport-security" => Some(PEER_TLS),
            _ => None,
        };
        match (section, v) {
            (Some(_), Yaml::Null) => {}
            (Some(keys), Yaml::Hash(inner)) => {
                for (ik, iv) in inner {
                    let Some(name) = ik
                        .as_str()
                        .and_then(|ik| keys.iter().find(|(k, _)| *k == ik))
                        .map(|(_, f)| *f)
                    else {
                        continue;
                    };
                    set(name, iv, &mut out)?;
                }
            }
            (Some(_), _) => return Err(invalid(key, "a TLS section must be a map")),
            (None, v) => set(key, v, &mut out)?,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(k: &str) -> Option<&'static str> {
        [
            "name",
            "heartbeat-interval",
            "log-outputs",
            "client-cert-auth",
            "cert-file",
            "peer-cert-file",
            "peer-client-cert-auth",
            "enable-grpc-gateway",
        ]
        .into_iter()
        .find(|n| *n == k)
    }

    #[test]
    fn keys_map_onto_flags() {
        let doc = "name: m1\nheartbeat-interval: 100\nlog-outputs: [stderr, /tmp/x.log]\n\
                   enable-grpc-gateway: false\nunknown-key: 3\n\
                   client-transport-security:\n  cert-file: /c.pem\n  client-cert-auth: true\n\
                   peer-transport-security:\n  cert-file: /p.pem\n  client-cert-auth: false\n";
        let v = values_from_yaml(doc, known).unwrap();
        let got: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("cert-file", "/c.pem"),
                ("client-cert-auth", "true"),
                ("enable-grpc-gateway", "false"),
                ("heartbeat-interval", "100"),
                ("log-outputs", "stderr,/tmp/x.log"),
                ("name", "m1"),
                ("peer-cert-file", "/p.pem"),
                ("peer-client-cert-auth", "false"),
            ]
        );
    }

    #[test]
    fn bad_documents_are_clear_errors() {
        assert!(values_from_yaml("name: [a: b", known).is_err());
        assert!(values_from_yaml("- a\n- b\n", known).is_err());
        assert!(values_from_yaml("name: {a: b}\n", known).is_err());
        assert!(values_from_yaml("", known).unwrap().is_empty());
        assert!(values_from_yaml("name: ~\n", known).unwrap().is_empty());
    }
}
