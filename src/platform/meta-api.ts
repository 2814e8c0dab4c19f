/** The version of Meta's Graph API the engine speaks (SendWhatsAppMessage `metaApiVersion`, Graph URLs). */
export const META_API_VERSION = 'v20.0';
