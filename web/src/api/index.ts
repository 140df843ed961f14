// Typed client for the Copydesk REST API, by domain (see README "The API"):
//   errors      ApiError, the error body
//   tokens      access token in memory, refresh token in localStorage, refresh
//   client      request(): JSON, bearer token, one refresh + retry on 401
//   auth        sign-up / in / out, verification, password reset
//   users       profile, my workspaces, invitations
//   workspaces  workspaces, members, roles
//   posts       posts, validation, listing
//   comments    comments and their anchors
//   versions    version history
//   events      the event stream's messages
//   webhooks    outgoing webhook endpoints, secrets, message and attempt log
//   approvals   approval mode, workflows, rounds and decisions, inbox, share links, review
//   notifications  in-app notifications, preferences, push subscriptions
export * from './errors';
export * from './tokens';
export { request, type RequestOptions } from './client';
export * from './auth';
export * from './users';
export * from './workspaces';
export * from './posts';
export * from './comments';
export * from './versions';
export * from './events';
export * from './webhooks';
export * from './approvals';
export * from './notifications';
