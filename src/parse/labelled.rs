//! The `Key:   value` family: `podman version` and `buildah version` (Go text templates with
//! aligned labels). Podman's remote client prints a `Client:` block and a `Server:` block.

/// The values of `key` in order of appearance (Podman remote: the client's, then the server's).
pub fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim())
        })
        .collect()
}

/// `Version:` of `podman version` or `buildah version`: the first (the client's, which on a
/// local Podman is the engine itself).
pub fn version(text: &str) -> Option<&str> {
    values(text, "Version").into_iter().find(|v| !v.is_empty())
}

/// The server's version when `podman version` talks to a remote engine (`Server:` block).
pub fn podman_server_version(text: &str) -> Option<&str> {
    let server = text.split_once("\nServer:")?.1;
    version(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_and_buildah_as_printed() {
        // Debian 12's podman 4.3.1 and buildah 1.28.2 (this machine).
        let podman = "Client:       Podman Engine\nVersion:      4.3.1\nAPI Version:  4.3.1\n\
                      Go Version:   go1.19.8\nBuilt:        Thu Jan  1 00:00:00 1970\nOS/Arch:      linux/amd64\n";
        assert_eq!(version(podman), Some("4.3.1"));
        assert_eq!(podman_server_version(podman), None);
        let buildah = "Version:         1.28.2\nGo Version:      go1.19.8\nImage Spec:      1.1.0-rc2\n\
                       Runtime Spec:    1.0.2-dev\nCNI Spec:        1.0.0\nlibcni Version:  \n\
                       image Version:   5.23.1\nGit Commit:      \nBuilt:           Thu Jan  1 00:00:00 1970\n\
                       OS/Arch:         linux/amd64\nBuildPlatform:   linux/amd64\n";
        assert_eq!(version(buildah), Some("1.28.2"));
        // `image Version` and `libcni Version` are other keys.
        assert_eq!(values(buildah, "image Version"), ["5.23.1"]);
        // Podman 4.8.2 on macOS talking to its machine's 5.1.1 (a Podman-on-Mac how-to).
        let remote = "Client:       Podman Engine\nVersion:      4.8.2\nAPI Version:  4.8.2\n\
                      Go Version:   go1.21.5\nGit Commit:   aa546902fa1a927b3d770528565627d1395b19f3\n\
                      Built:        Mon Dec 11 18:38:03 2023\nOS/Arch:      darwin/arm64\n\n\
                      Server:       Podman Engine\nVersion:      5.1.1\nAPI Version:  5.1.1\n\
                      Go Version:   go1.22.3\nBuilt:        Tue Jun  4 08:00:00 2024\nOS/Arch:      linux/arm64\n";
        assert_eq!(version(remote), Some("4.8.2"));
        assert_eq!(podman_server_version(remote), Some("5.1.1"));
        assert_eq!(version("Error: cannot connect\n"), None);
    }
}
