/* SHA-256 through OpenSSL's libcrypto (EVP API). */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "io/io_internal.h"

void sd_sha256_hex(const void *data, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const unsigned char empty[1] = {0};
    /* EVP_Digest wants a valid pointer even for zero bytes */
    if (!EVP_Digest(len ? data : empty, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        /* only on an OpenSSL failure (no SHA-256 provider): never a value
         * that could be mistaken for a real hash */
        hex[0] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}
