"""Typed calls to downstream gRPC services, each with a deadline and the caller's identity."""

from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm.analytics.v1 import analytics_pb2 as an
from crm.analytics.v1 import analytics_pb2_grpc
from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from crm.profile.v1 import profile_pb2 as pb
from crm.profile.v1 import profile_pb2_grpc
from crm.search.v1 import search_pb2, search_pb2_grpc
from crm.tagging.v1 import tagging_pb2 as tg
from crm.tagging.v1 import tagging_pb2_grpc
from services.common import grpc_client
from services.common.settings import ServiceSettings

Metadata = Sequence[tuple[str, str]]


class _Client:
    """One channel to a service for the gateway's lifetime, spread over its replicas (mutual TLS
    when the settings give certificates)."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        self._channel = grpc_client.aio_channel(address, settings)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._deadline = settings.rpc_deadline_seconds

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def ready(self) -> bool:
        """Whether the service reports SERVING."""
        try:
            reply = await self._health.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=min(self._deadline, 2.0)
            )
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING


class AuthClient(_Client):
    """The auth service: logins, tokens and the second factor."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        super().__init__(address, settings)
        self._stub = auth_pb2_grpc.AuthServiceStub(self._channel)

    async def login(self, md: Metadata, req: auth_pb2.LoginRequest) -> auth_pb2.LoginResponse:
        """AuthService.Login."""
        return await self._stub.Login(req, metadata=md, timeout=self._deadline)

    async def change_password(
        self, md: Metadata, req: auth_pb2.ChangePasswordRequest
    ) -> auth_pb2.ChangePasswordResponse:
        """AuthService.ChangePassword."""
        return await self._stub.ChangePassword(req, metadata=md, timeout=self._deadline)

    async def enroll_totp(self, md: Metadata, req: auth_pb2.EnrollTotpRequest) -> auth_pb2.EnrollTotpResponse:
        """AuthService.EnrollTotp."""
        return await self._stub.EnrollTotp(req, metadata=md, timeout=self._deadline)

    async def verify_totp(self, md: Metadata, req: auth_pb2.VerifyTotpRequest) -> auth_pb2.VerifyTotpResponse:
        """AuthService.VerifyTotp."""
        return await self._stub.VerifyTotp(req, metadata=md, timeout=self._deadline)

    async def refresh(self, md: Metadata, req: auth_pb2.RefreshRequest) -> auth_pb2.RefreshResponse:
        """AuthService.Refresh."""
        return await self._stub.Refresh(req, metadata=md, timeout=self._deadline)

    async def logout(self, md: Metadata, req: auth_pb2.LogoutRequest) -> auth_pb2.LogoutResponse:
        """AuthService.Logout."""
        return await self._stub.Logout(req, metadata=md, timeout=self._deadline)

    async def issue_client_token(
        self, md: Metadata, req: auth_pb2.IssueClientTokenRequest
    ) -> auth_pb2.IssueClientTokenResponse:
        """AuthService.IssueClientToken."""
        return await self._stub.IssueClientToken(req, metadata=md, timeout=self._deadline)

    async def list_audit_events(
        self, md: Metadata, req: auth_pb2.ListAuditEventsRequest
    ) -> auth_pb2.ListAuditEventsResponse:
        """AuthService.ListAuditEvents."""
        return await self._stub.ListAuditEvents(req, metadata=md, timeout=self._deadline)

    async def verify_audit_log(
        self, md: Metadata, req: auth_pb2.VerifyAuditLogRequest
    ) -> auth_pb2.VerifyAuditLogResponse:
        """AuthService.VerifyAuditLog (walks the whole chain: a longer deadline)."""
        return await self._stub.VerifyAuditLog(req, metadata=md, timeout=max(self._deadline, 60.0))

    async def list_security_alerts(
        self, md: Metadata, req: auth_pb2.ListSecurityAlertsRequest
    ) -> auth_pb2.ListSecurityAlertsResponse:
        """AuthService.ListSecurityAlerts."""
        return await self._stub.ListSecurityAlerts(req, metadata=md, timeout=self._deadline)

    async def acknowledge_security_alert(
        self, md: Metadata, req: auth_pb2.AcknowledgeSecurityAlertRequest
    ) -> auth_pb2.AcknowledgeSecurityAlertResponse:
        """AuthService.AcknowledgeSecurityAlert."""
        return await self._stub.AcknowledgeSecurityAlert(req, metadata=md, timeout=self._deadline)

    async def list_users(self, md: Metadata, req: auth_pb2.ListUsersRequest) -> auth_pb2.ListUsersResponse:
        """AuthService.ListUsers."""
        return await self._stub.ListUsers(req, metadata=md, timeout=self._deadline)

    async def create_user(self, md: Metadata, req: auth_pb2.CreateUserRequest) -> auth_pb2.CreateUserResponse:
        """AuthService.CreateUser."""
        return await self._stub.CreateUser(req, metadata=md, timeout=self._deadline)

    async def update_user(self, md: Metadata, req: auth_pb2.UpdateUserRequest) -> auth_pb2.UpdateUserResponse:
        """AuthService.UpdateUser."""
        return await self._stub.UpdateUser(req, metadata=md, timeout=self._deadline)

    async def reset_password(
        self, md: Metadata, req: auth_pb2.ResetPasswordRequest
    ) -> auth_pb2.ResetPasswordResponse:
        """AuthService.ResetPassword."""
        return await self._stub.ResetPassword(req, metadata=md, timeout=self._deadline)

    async def unlock_user(self, md: Metadata, req: auth_pb2.UnlockUserRequest) -> auth_pb2.UnlockUserResponse:
        """AuthService.UnlockUser."""
        return await self._stub.UnlockUser(req, metadata=md, timeout=self._deadline)

    async def list_roles(self, md: Metadata, req: auth_pb2.ListRolesRequest) -> auth_pb2.ListRolesResponse:
        """AuthService.ListRoles."""
        return await self._stub.ListRoles(req, metadata=md, timeout=self._deadline)

    async def create_role(self, md: Metadata, req: auth_pb2.CreateRoleRequest) -> auth_pb2.CreateRoleResponse:
        """AuthService.CreateRole."""
        return await self._stub.CreateRole(req, metadata=md, timeout=self._deadline)

    async def update_role(self, md: Metadata, req: auth_pb2.UpdateRoleRequest) -> auth_pb2.UpdateRoleResponse:
        """AuthService.UpdateRole."""
        return await self._stub.UpdateRole(req, metadata=md, timeout=self._deadline)

    async def list_org_units(
        self, md: Metadata, req: auth_pb2.ListOrgUnitsRequest
    ) -> auth_pb2.ListOrgUnitsResponse:
        """AuthService.ListOrgUnits."""
        return await self._stub.ListOrgUnits(req, metadata=md, timeout=self._deadline)

    async def create_org_unit(
        self, md: Metadata, req: auth_pb2.CreateOrgUnitRequest
    ) -> auth_pb2.CreateOrgUnitResponse:
        """AuthService.CreateOrgUnit."""
        return await self._stub.CreateOrgUnit(req, metadata=md, timeout=self._deadline)

    async def list_api_clients(
        self, md: Metadata, req: auth_pb2.ListApiClientsRequest
    ) -> auth_pb2.ListApiClientsResponse:
        """AuthService.ListApiClients."""
        return await self._stub.ListApiClients(req, metadata=md, timeout=self._deadline)

    async def create_api_client(
        self, md: Metadata, req: auth_pb2.CreateApiClientRequest
    ) -> auth_pb2.CreateApiClientResponse:
        """AuthService.CreateApiClient."""
        return await self._stub.CreateApiClient(req, metadata=md, timeout=self._deadline)

    async def rotate_api_client_secret(
        self, md: Metadata, req: auth_pb2.RotateApiClientSecretRequest
    ) -> auth_pb2.RotateApiClientSecretResponse:
        """AuthService.RotateApiClientSecret."""
        return await self._stub.RotateApiClientSecret(req, metadata=md, timeout=self._deadline)

    async def disable_api_client(
        self, md: Metadata, req: auth_pb2.DisableApiClientRequest
    ) -> auth_pb2.DisableApiClientResponse:
        """AuthService.DisableApiClient."""
        return await self._stub.DisableApiClient(req, metadata=md, timeout=self._deadline)


class SearchClient(_Client):
    """The search service."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        super().__init__(address, settings)
        self._stub = search_pb2_grpc.SearchServiceStub(self._channel)

    async def search_customers(
        self, md: Metadata, req: search_pb2.SearchCustomersRequest
    ) -> search_pb2.SearchCustomersResponse:
        """SearchService.SearchCustomers."""
        return await self._stub.SearchCustomers(req, metadata=md, timeout=self._deadline)

    async def suggest_customers(
        self, md: Metadata, req: search_pb2.SuggestCustomersRequest
    ) -> search_pb2.SuggestCustomersResponse:
        """SearchService.SuggestCustomers."""
        return await self._stub.SuggestCustomers(req, metadata=md, timeout=self._deadline)


class ProfileClient(_Client):
    """The profile service."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        super().__init__(address, settings)
        self._stub = profile_pb2_grpc.ProfileServiceStub(self._channel)

    async def create_customer(self, md: Metadata, req: pb.CreateCustomerRequest) -> pb.CreateCustomerResponse:
        """ProfileService.CreateCustomer."""
        return await self._stub.CreateCustomer(req, metadata=md, timeout=self._deadline)

    async def get_customer(self, md: Metadata, req: pb.GetCustomerRequest) -> pb.GetCustomerResponse:
        """ProfileService.GetCustomer."""
        return await self._stub.GetCustomer(req, metadata=md, timeout=self._deadline)

    async def update_customer(self, md: Metadata, req: pb.UpdateCustomerRequest) -> pb.UpdateCustomerResponse:
        """ProfileService.UpdateCustomer."""
        return await self._stub.UpdateCustomer(req, metadata=md, timeout=self._deadline)

    async def delete_customer(self, md: Metadata, req: pb.DeleteCustomerRequest) -> pb.DeleteCustomerResponse:
        """ProfileService.DeleteCustomer."""
        return await self._stub.DeleteCustomer(req, metadata=md, timeout=self._deadline)

    async def restore_customer(
        self, md: Metadata, req: pb.RestoreCustomerRequest
    ) -> pb.RestoreCustomerResponse:
        """ProfileService.RestoreCustomer."""
        return await self._stub.RestoreCustomer(req, metadata=md, timeout=self._deadline)

    async def list_customers(self, md: Metadata, req: pb.ListCustomersRequest) -> pb.ListCustomersResponse:
        """ProfileService.ListCustomers."""
        return await self._stub.ListCustomers(req, metadata=md, timeout=self._deadline)

    async def list_customer_history(
        self, md: Metadata, req: pb.ListCustomerHistoryRequest
    ) -> pb.ListCustomerHistoryResponse:
        """ProfileService.ListCustomerHistory."""
        return await self._stub.ListCustomerHistory(req, metadata=md, timeout=self._deadline)

    async def get_customer_view(
        self, md: Metadata, req: pb.GetCustomerViewRequest
    ) -> pb.GetCustomerViewResponse:
        """ProfileService.GetCustomerView."""
        return await self._stub.GetCustomerView(req, metadata=md, timeout=self._deadline)

    async def create_contact(self, md: Metadata, req: pb.CreateContactRequest) -> pb.CreateContactResponse:
        """ProfileService.CreateContact."""
        return await self._stub.CreateContact(req, metadata=md, timeout=self._deadline)

    async def list_contacts(self, md: Metadata, req: pb.ListRelatedRequest) -> pb.ListContactsResponse:
        """ProfileService.ListContacts."""
        return await self._stub.ListContacts(req, metadata=md, timeout=self._deadline)

    async def create_interaction(
        self, md: Metadata, req: pb.CreateInteractionRequest
    ) -> pb.CreateInteractionResponse:
        """ProfileService.CreateInteraction."""
        return await self._stub.CreateInteraction(req, metadata=md, timeout=self._deadline)

    async def list_interactions(
        self, md: Metadata, req: pb.ListRelatedRequest
    ) -> pb.ListInteractionsResponse:
        """ProfileService.ListInteractions."""
        return await self._stub.ListInteractions(req, metadata=md, timeout=self._deadline)

    async def create_order(self, md: Metadata, req: pb.CreateOrderRequest) -> pb.CreateOrderResponse:
        """ProfileService.CreateOrder."""
        return await self._stub.CreateOrder(req, metadata=md, timeout=self._deadline)

    async def list_orders(self, md: Metadata, req: pb.ListRelatedRequest) -> pb.ListOrdersResponse:
        """ProfileService.ListOrders."""
        return await self._stub.ListOrders(req, metadata=md, timeout=self._deadline)

    async def create_contract(self, md: Metadata, req: pb.CreateContractRequest) -> pb.CreateContractResponse:
        """ProfileService.CreateContract."""
        return await self._stub.CreateContract(req, metadata=md, timeout=self._deadline)

    async def list_contracts(self, md: Metadata, req: pb.ListRelatedRequest) -> pb.ListContractsResponse:
        """ProfileService.ListContracts."""
        return await self._stub.ListContracts(req, metadata=md, timeout=self._deadline)

    async def create_service_record(
        self, md: Metadata, req: pb.CreateServiceRecordRequest
    ) -> pb.CreateServiceRecordResponse:
        """ProfileService.CreateServiceRecord."""
        return await self._stub.CreateServiceRecord(req, metadata=md, timeout=self._deadline)

    async def list_service_records(
        self, md: Metadata, req: pb.ListRelatedRequest
    ) -> pb.ListServiceRecordsResponse:
        """ProfileService.ListServiceRecords."""
        return await self._stub.ListServiceRecords(req, metadata=md, timeout=self._deadline)

    async def list_custom_fields(
        self, md: Metadata, req: pb.ListCustomFieldsRequest
    ) -> pb.ListCustomFieldsResponse:
        """ProfileService.ListCustomFields."""
        return await self._stub.ListCustomFields(req, metadata=md, timeout=self._deadline)

    async def create_custom_field(
        self, md: Metadata, req: pb.CreateCustomFieldRequest
    ) -> pb.CreateCustomFieldResponse:
        """ProfileService.CreateCustomField."""
        return await self._stub.CreateCustomField(req, metadata=md, timeout=self._deadline)

    async def give_consent(self, md: Metadata, req: pb.GiveConsentRequest) -> pb.GiveConsentResponse:
        """ProfileService.GiveConsent."""
        return await self._stub.GiveConsent(req, metadata=md, timeout=self._deadline)

    async def withdraw_consent(
        self, md: Metadata, req: pb.WithdrawConsentRequest
    ) -> pb.WithdrawConsentResponse:
        """ProfileService.WithdrawConsent."""
        return await self._stub.WithdrawConsent(req, metadata=md, timeout=self._deadline)

    async def list_consents(self, md: Metadata, req: pb.ListConsentsRequest) -> pb.ListConsentsResponse:
        """ProfileService.ListConsents."""
        return await self._stub.ListConsents(req, metadata=md, timeout=self._deadline)

    async def export_personal_data(
        self, md: Metadata, req: pb.ExportPersonalDataRequest
    ) -> pb.ExportPersonalDataResponse:
        """ProfileService.ExportPersonalData."""
        return await self._stub.ExportPersonalData(req, metadata=md, timeout=self._deadline)

    async def erase_personal_data(
        self, md: Metadata, req: pb.ErasePersonalDataRequest
    ) -> pb.ErasePersonalDataResponse:
        """ProfileService.ErasePersonalData (longer deadline: it deletes every related row)."""
        return await self._stub.ErasePersonalData(req, metadata=md, timeout=self._deadline * 4)


class TaggingClient(_Client):
    """The tagging service: tags, tag rules and segments."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        super().__init__(address, settings)
        self._stub = tagging_pb2_grpc.TaggingServiceStub(self._channel)

    async def list_tags(self, md: Metadata, req: tg.ListTagsRequest) -> tg.ListTagsResponse:
        """TaggingService.ListTags."""
        return await self._stub.ListTags(req, metadata=md, timeout=self._deadline)

    async def create_tag(self, md: Metadata, req: tg.CreateTagRequest) -> tg.CreateTagResponse:
        """TaggingService.CreateTag."""
        return await self._stub.CreateTag(req, metadata=md, timeout=self._deadline)

    async def update_tag(self, md: Metadata, req: tg.UpdateTagRequest) -> tg.UpdateTagResponse:
        """TaggingService.UpdateTag."""
        return await self._stub.UpdateTag(req, metadata=md, timeout=self._deadline)

    async def delete_tag(self, md: Metadata, req: tg.DeleteTagRequest) -> tg.DeleteTagResponse:
        """TaggingService.DeleteTag."""
        return await self._stub.DeleteTag(req, metadata=md, timeout=self._deadline)

    async def merge_tags(self, md: Metadata, req: tg.MergeTagsRequest) -> tg.MergeTagsResponse:
        """TaggingService.MergeTags."""
        return await self._stub.MergeTags(req, metadata=md, timeout=self._deadline)

    async def assign_tags(self, md: Metadata, req: tg.AssignTagsRequest) -> tg.AssignTagsResponse:
        """TaggingService.AssignTags."""
        return await self._stub.AssignTags(req, metadata=md, timeout=self._deadline)

    async def remove_tags(self, md: Metadata, req: tg.RemoveTagsRequest) -> tg.RemoveTagsResponse:
        """TaggingService.RemoveTags."""
        return await self._stub.RemoveTags(req, metadata=md, timeout=self._deadline)

    async def list_customer_tags(
        self, md: Metadata, req: tg.ListCustomerTagsRequest
    ) -> tg.ListCustomerTagsResponse:
        """TaggingService.ListCustomerTags."""
        return await self._stub.ListCustomerTags(req, metadata=md, timeout=self._deadline)

    async def list_tag_history(
        self, md: Metadata, req: tg.ListTagHistoryRequest
    ) -> tg.ListTagHistoryResponse:
        """TaggingService.ListTagHistory."""
        return await self._stub.ListTagHistory(req, metadata=md, timeout=self._deadline)

    async def list_tag_rules(self, md: Metadata, req: tg.ListTagRulesRequest) -> tg.ListTagRulesResponse:
        """TaggingService.ListTagRules."""
        return await self._stub.ListTagRules(req, metadata=md, timeout=self._deadline)

    async def create_tag_rule(self, md: Metadata, req: tg.CreateTagRuleRequest) -> tg.CreateTagRuleResponse:
        """TaggingService.CreateTagRule."""
        return await self._stub.CreateTagRule(req, metadata=md, timeout=self._deadline)

    async def update_tag_rule(self, md: Metadata, req: tg.UpdateTagRuleRequest) -> tg.UpdateTagRuleResponse:
        """TaggingService.UpdateTagRule."""
        return await self._stub.UpdateTagRule(req, metadata=md, timeout=self._deadline)

    async def delete_tag_rule(self, md: Metadata, req: tg.DeleteTagRuleRequest) -> tg.DeleteTagRuleResponse:
        """TaggingService.DeleteTagRule."""
        return await self._stub.DeleteTagRule(req, metadata=md, timeout=self._deadline)

    async def dry_run_tag_rule(self, md: Metadata, req: tg.DryRunTagRuleRequest) -> tg.DryRunTagRuleResponse:
        """TaggingService.DryRunTagRule."""
        return await self._stub.DryRunTagRule(req, metadata=md, timeout=self._deadline)

    async def run_scheduled_evaluation(
        self, md: Metadata, req: tg.RunScheduledEvaluationRequest
    ) -> tg.RunScheduledEvaluationResponse:
        """TaggingService.RunScheduledEvaluation."""
        return await self._stub.RunScheduledEvaluation(req, metadata=md, timeout=self._deadline)

    async def preview_segment(self, md: Metadata, req: tg.PreviewSegmentRequest) -> tg.PreviewSegmentResponse:
        """TaggingService.PreviewSegment."""
        return await self._stub.PreviewSegment(req, metadata=md, timeout=self._deadline)

    async def create_segment(self, md: Metadata, req: tg.CreateSegmentRequest) -> tg.CreateSegmentResponse:
        """TaggingService.CreateSegment."""
        return await self._stub.CreateSegment(req, metadata=md, timeout=self._deadline)

    async def get_segment(self, md: Metadata, req: tg.GetSegmentRequest) -> tg.GetSegmentResponse:
        """TaggingService.GetSegment."""
        return await self._stub.GetSegment(req, metadata=md, timeout=self._deadline)

    async def list_segments(self, md: Metadata, req: tg.ListSegmentsRequest) -> tg.ListSegmentsResponse:
        """TaggingService.ListSegments."""
        return await self._stub.ListSegments(req, metadata=md, timeout=self._deadline)

    async def update_segment(self, md: Metadata, req: tg.UpdateSegmentRequest) -> tg.UpdateSegmentResponse:
        """TaggingService.UpdateSegment."""
        return await self._stub.UpdateSegment(req, metadata=md, timeout=self._deadline)

    async def delete_segment(self, md: Metadata, req: tg.DeleteSegmentRequest) -> tg.DeleteSegmentResponse:
        """TaggingService.DeleteSegment."""
        return await self._stub.DeleteSegment(req, metadata=md, timeout=self._deadline)

    async def list_segment_members(
        self, md: Metadata, req: tg.ListSegmentMembersRequest
    ) -> tg.ListSegmentMembersResponse:
        """TaggingService.ListSegmentMembers."""
        return await self._stub.ListSegmentMembers(req, metadata=md, timeout=self._deadline)

    async def read_segment_events(
        self, md: Metadata, req: tg.ReadSegmentEventsRequest
    ) -> tg.ReadSegmentEventsResponse:
        """TaggingService.ReadSegmentEvents."""
        return await self._stub.ReadSegmentEvents(req, metadata=md, timeout=self._deadline)

    async def read_tag_changes(
        self, md: Metadata, req: tg.ReadTagChangesRequest
    ) -> tg.ReadTagChangesResponse:
        """TaggingService.ReadTagChanges."""
        return await self._stub.ReadTagChanges(req, metadata=md, timeout=self._deadline)


class AnalyticsClient(_Client):
    """The analytics service: distribution, growth, funnel and portrait views."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        super().__init__(address, settings)
        self._stub = analytics_pb2_grpc.AnalyticsServiceStub(self._channel)

    async def get_distribution(
        self, md: Metadata, req: an.GetDistributionRequest
    ) -> an.GetDistributionResponse:
        """AnalyticsService.GetDistribution."""
        return await self._stub.GetDistribution(req, metadata=md, timeout=self._deadline)

    async def get_growth(self, md: Metadata, req: an.GetGrowthRequest) -> an.GetGrowthResponse:
        """AnalyticsService.GetGrowth."""
        return await self._stub.GetGrowth(req, metadata=md, timeout=self._deadline)

    async def get_funnel(self, md: Metadata, req: an.GetFunnelRequest) -> an.GetFunnelResponse:
        """AnalyticsService.GetFunnel."""
        return await self._stub.GetFunnel(req, metadata=md, timeout=self._deadline)

    async def get_portrait(self, md: Metadata, req: an.GetPortraitRequest) -> an.GetPortraitResponse:
        """AnalyticsService.GetPortrait."""
        return await self._stub.GetPortrait(req, metadata=md, timeout=self._deadline)
