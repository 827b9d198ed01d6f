#!/bin/sh
# core_links.sh LIB.so: fails when the shared library needs libcrypto, libssl, zlib or libzstd (a NEEDED entry,
# or an undefined symbol of theirs).  libpgstate must stay libc only; the envelope layer is a library of its own.
set -eu
lib=$1
[ -f "$lib" ] || { echo "  FAIL: no $lib"; exit 1; }
bad=0
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for n in $needed; do
    case $n in
    libcrypto.so* | libssl.so* | libz.so* | libzstd.so*) echo "  FAIL: $lib needs $n"; bad=1 ;;
    esac
done
syms=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | grep -E '^(EVP_|OSSL_|RAND_|ERR_|CRYPTO_|OPENSSL_|HMAC|inflate|deflate|zError|ZSTD_)' || true)
if [ -n "$syms" ]; then
    echo "  FAIL: $lib uses $(echo $syms | tr '\n' ' ')"
    bad=1
fi
[ $bad -eq 0 ] || exit 1
echo "ok   $lib needs $(echo $needed | tr '\n' ' ')"
