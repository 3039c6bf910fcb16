@_exported import Portable
