//! docker-compose.yml, the Dockerfile and procgate.env.example, checked against the
//! configuration the binary actually reads (its `serve --help`): Docker cannot run here, so
//! this is how the deployment files are kept correct.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(root().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What `procgate serve --help` says it reads: the environment variables and the services.
fn binary_settings() -> (BTreeSet<String>, BTreeSet<String>) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_procgate")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let vars = help
        .match_indices("[env: ")
        .map(|(i, _)| {
            let rest = &help[i + 6..];
            rest[..rest.find(['=', ']']).unwrap()].to_owned()
        })
        .collect();
    let services = help
        .split("[possible values: ")
        .nth(1)
        .expect("serve --help lists the services")
        .split(']')
        .next()
        .unwrap()
        .split(", ")
        .map(str::to_owned)
        .collect();
    (vars, services)
}

fn compose() -> Yaml {
    YamlLoader::load_from_str(&read("docker-compose.yml"))
        .expect("docker-compose.yml is YAML")
        .remove(0)
}

fn text(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

fn env_map(service: &Yaml) -> BTreeMap<String, String> {
    service["environment"]
        .as_hash()
        .map(|h| h.iter().map(|(k, v)| (text(k), text(v))).collect())
        .unwrap_or_default()
}

#[test]
fn every_service_runs_with_settings_the_binary_reads() {
    let (vars, services) = binary_settings();
    assert!(vars.contains("PROCGATE_DATABASE_URL") && vars.contains("PROCGATE_LISTEN"), "{vars:?}");
    assert_eq!(services, ["console", "gate", "reporting", "stakeholders"].map(String::from).into());
    let compose = compose();
    let db = &compose["services"]["db"];
    let db_env = env_map(db);
    let mut host_ports = BTreeSet::new();
    for name in &services {
        let service = &compose["services"][name.as_str()];
        assert!(!service.is_badvalue(), "docker-compose.yml has no {name} service");
        assert_eq!(text(&service["build"]), ".", "{name} is built from the Dockerfile");
        let command: Vec<String> = service["command"].as_vec().unwrap().iter().map(text).collect();
        assert_eq!(command, vec!["serve".to_owned(), name.clone()], "{name}'s command");
        let env = env_map(service);
        for key in env.keys() {
            assert!(vars.contains(key), "{name} sets {key}, which procgate does not read");
        }
        // The container listens where its port mapping points.
        let listen = &env["PROCGATE_LISTEN"];
        let container_port = listen.rsplit(':').next().unwrap();
        assert!(
            listen.starts_with("0.0.0.0:"),
            "{name} must listen on all interfaces in its container"
        );
        let ports: Vec<String> = service["ports"].as_vec().unwrap().iter().map(text).collect();
        let [mapping] = ports.as_slice() else { panic!("{name} publishes one port") };
        let (host, container) = mapping.split_once(':').unwrap();
        assert_eq!(
            container, container_port,
            "{name}: the published port is the one it listens on"
        );
        assert!(host_ports.insert(host.to_owned()), "host port {host} used twice");
        if name == "console" {
            // The console keeps nothing: no database; it reaches each service by its name.
            assert!(!env.contains_key("PROCGATE_DATABASE_URL"), "the console needs no database");
            let needs: Vec<String> =
                service["depends_on"].as_vec().unwrap().iter().map(text).collect();
            for other in ["gate", "stakeholders", "reporting"] {
                let key = format!("PROCGATE_{}_URL", other.to_uppercase());
                let their_port = env_map(&compose["services"][other])["PROCGATE_LISTEN"]
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .to_owned();
                assert_eq!(env[&key], format!("http://{other}:{their_port}"), "console's {key}");
                assert!(needs.contains(&other.to_owned()), "the console starts after {other}");
            }
            assert_eq!(
                env["PROCGATE_PUBLIC_URL"],
                format!("http://localhost:{host}"),
                "the console's public URL is its published port"
            );
            // Its session key is kept in the data directory, on a declared volume.
            let volumes: Vec<String> =
                service["volumes"].as_vec().unwrap().iter().map(text).collect();
            let [mount] = volumes.as_slice() else { panic!("the console keeps one volume") };
            let (volume, at) = mount.split_once(':').unwrap();
            assert_eq!(at, "/var/lib/procgate", "the console's volume is its data directory");
            assert!(!compose["volumes"][volume].is_badvalue(), "the volume {volume} is declared");
            continue;
        }
        // The database it names is the compose database, with its credentials.
        let url = &env["PROCGATE_DATABASE_URL"];
        let expected = format!(
            "postgres://{}:{}@db:5432/{}",
            db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"], db_env["POSTGRES_DB"]
        );
        assert_eq!(url, &expected, "{name}'s database URL");
        assert_eq!(
            text(&service["depends_on"]["db"]["condition"]),
            "service_healthy",
            "{name} starts once the database is healthy"
        );
        assert_eq!(
            text(&service["env_file"]),
            "procgate.env",
            "{name} takes the JWT key from the env file"
        );
    }
    assert_eq!(text(&db["image"]), "postgres:16");
    assert!(!db["healthcheck"]["test"].is_badvalue(), "the database has a health check");
    let volumes: Vec<String> = db["volumes"].as_vec().unwrap().iter().map(text).collect();
    let volume = volumes[0].split(':').next().unwrap();
    assert!(!compose["volumes"][volume].is_badvalue(), "the database volume {volume} is declared");
}

#[test]
fn the_env_file_example_sets_only_what_the_binary_reads() {
    let (vars, _) = binary_settings();
    let example = read("procgate.env.example");
    let keys: Vec<&str> = example
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once('=').expect("KEY=value").0)
        .collect();
    assert!(keys.contains(&"PROCGATE_JWT_SECRET"));
    for key in keys {
        assert!(
            vars.contains(key),
            "procgate.env.example sets {key}, which procgate does not read"
        );
    }
}

#[test]
fn the_image_runs_procgate_on_the_port_compose_maps() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("ENTRYPOINT [\"procgate\"]"));
    assert!(dockerfile.contains("EXPOSE 8080"));
    assert!(dockerfile.contains("PROCGATE_LISTEN=0.0.0.0:8080"));
    // The data directory (the embedded store, the keys made on first start) is a volume.
    assert!(dockerfile.contains("PROCGATE_DATA_DIR=/var/lib/procgate"));
    assert!(dockerfile.contains("VOLUME [\"/var/lib/procgate\"]"));
    assert!(dockerfile.contains("cargo build --release --locked -p procgate"));
    let (vars, _) = binary_settings();
    for line in dockerfile.lines().filter(|l| l.contains("PROCGATE_")) {
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("PROCGATE_") {
                assert!(
                    vars.contains(word),
                    "the Dockerfile sets {word}, which procgate does not read"
                );
            }
        }
    }
}
