#!/bin/sh
# Writes docs/openapi.yaml into the service (GET /openapi.yaml serves it) as a Swift string.
# Run after editing the document; a test fails while the two differ.
set -eu
cd "$(dirname "$0")/.."
out=Sources/SwiftRecServing/HTTP/OpenAPIDocument.swift
{
    echo '// Generated from docs/openapi.yaml by scripts/embed-openapi.sh; edit the document, not this file.'
    echo ''
    echo '/// The API document the service describes itself with (`GET /openapi.yaml`).'
    echo 'enum OpenAPIDocument {'
    echo '    static let yaml = #"""'
    # Indented as the closing delimiter, which Swift strips from every line; blank lines stay blank.
    sed 's/^\(.\)/        \1/' docs/openapi.yaml
    echo '        """#'
    echo '}'
} > "$out"
