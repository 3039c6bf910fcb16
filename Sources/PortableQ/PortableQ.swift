// The library an application imports: `import PortableQ` gives the core (jobs, workers, flows,
// the client) and both storage backends (`Database.connect("sqlite:…" or "postgres://…")`).
@_exported import Backends
@_exported import Portable
