import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// A server's certificate (the full chain, PEM) and private key (PEM), as the TLS context each new connection
/// takes. `reload()` reads the files again (on SIGHUP, see `reloadOnHangup`): connections accepted afterwards use
/// the new certificate, those already open keep theirs. A reload that fails keeps the certificate in use.
public final class TLSCertificates: Sendable {
    public let certificatePath: String
    public let keyPath: String
    private let current: NIOLockedValueBox<NIOSSLContext>

    public init(certificatePath: String, keyPath: String) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.current = NIOLockedValueBox(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    /// The context for the next connection.
    public var context: NIOSSLContext { current.withLockedValue { $0 } }

    public func reload() throws {
        let fresh = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        current.withLockedValue { $0 = fresh }
    }

    /// TLS 1.2 and 1.3 only; BoringSSL's default cipher suites (forward-secret AEADs).
    static func load(certificatePath: String, keyPath: String) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificatePath) } catch {
            throw TLSSetupError("cannot read the certificate chain in \(certificatePath): \(error)")
        }
        guard !chain.isEmpty else { throw TLSSetupError("\(certificatePath) holds no PEM certificate") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyPath, format: .pem) } catch {
            throw TLSSetupError("cannot read the private key in \(keyPath): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw TLSSetupError(
                "the certificate in \(certificatePath) and the key in \(keyPath) do not make a TLS context: \(error)")
        }
    }

    /// Reloads on every SIGHUP, logging what happened, until the returned registration is cancelled.
    public func reloadOnHangup(logger: Logger) -> Hangups.Registration {
        Hangups.add { [self] in
            do {
                try reload()
                logger.notice("TLS certificate reloaded", metadata: ["tls.certificate": "\(certificatePath)"])
            } catch {
                logger.error(
                    "TLS certificate not reloaded; the previous one stays in use",
                    metadata: ["tls.certificate": "\(certificatePath)", "error": "\(error)"])
            }
        }
    }
}

extension TLSCertificates {
    /// What a server's TLS options ask for, checked for sense and loaded: TLS ports need a certificate and a key,
    /// and those need a TLS port (a certificate with nowhere to serve it is a mistake, not a default). Nil without
    /// TLS. Both executables take `--tls-port`, `--https-port`, `--tls-cert` and `--tls-key` this way.
    public static func fromOptions(
        tlsPort: Int?, httpsPort: Int?, certificate: String?, key: String?
    ) throws
        -> TLSCertificates?
    {
        for (name, port) in [("--tls-port", tlsPort), ("--https-port", httpsPort)] {
            if let port, !(0...65535).contains(port) { throw TLSSetupError("\(name) must be 0 to 65535") }
        }
        let wantsTLS = tlsPort != nil || httpsPort != nil
        guard wantsTLS == (certificate != nil && key != nil), (certificate == nil) == (key == nil) else {
            throw TLSSetupError("--tls-port and --https-port need --tls-cert and --tls-key, and those need a TLS port")
        }
        guard let certificate, let key else { return nil }
        return try TLSCertificates(certificatePath: certificate, keyPath: key)
    }
}

public struct TLSSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
