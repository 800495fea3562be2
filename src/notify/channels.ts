/** The one registration point for channel types: a new channel is one file and one line here. */
import type { ChannelConfig, NotifyConfig } from '../project/notify-schema.js';
import type { Channel, FetchLike } from './channel.js';
import { createSmtpChannel } from './smtp.js';
import { createWebhookChannel } from './webhook.js';

export interface ChannelDeps {
  readonly fetch?: FetchLike;
}

type Factory<C extends ChannelConfig> = (config: C, deps: ChannelDeps) => Channel;

export const channelFactories = {
  smtp: (config, _deps) => createSmtpChannel(config),
  webhook: (config, deps) => createWebhookChannel(config, deps),
} satisfies { [T in ChannelConfig['type']]: Factory<Extract<ChannelConfig, { type: T }>> };

export function createChannel(config: ChannelConfig, deps: ChannelDeps = {}): Channel {
  return config.type === 'smtp' ? channelFactories.smtp(config, deps) : channelFactories.webhook(config, deps);
}

export function createChannels(config: NotifyConfig, deps: ChannelDeps = {}): Record<string, Channel> {
  return Object.fromEntries(Object.entries(config.channels).map(([name, c]) => [name, createChannel(c, deps)]));
}
